// The app: GET / greets with its version (through the greeting package npm ci installed),
// /health says ok.
const fs = require("fs");
const http = require("http");
const path = require("path");
const greeting = require("greeting");

const version = fs.readFileSync(path.join(__dirname, "VERSION"), "utf8").trim();

http
  .createServer((request, response) => {
    const body =
      request.url === "/health" ? "ok\n" : `${greeting(`node app version ${version}`)}\n`;
    response.writeHead(200, {
      "Content-Type": "text/plain",
      "Content-Length": Buffer.byteLength(body),
    });
    response.end(body);
  })
  .listen(3000, "0.0.0.0");
