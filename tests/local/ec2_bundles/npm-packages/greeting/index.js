module.exports = (text) => `hello from ${text}`;
