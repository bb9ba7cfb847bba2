"""Searching what a run produced for planted secret values.

A secret can leak as it is, URL-encoded (in a query string or a form body) or in base64 (in a
header value, a token or an encoded blob). ``forms(secret)`` gives the byte strings to look
for: the raw value, its URL encoding, and its base64 encodings (standard and URL-safe) at each
of the three alignments it can have inside a longer base64 text, so a secret embedded in a
bigger encoded blob is found as well as one encoded on its own.

``leaks(secrets, places)`` searches every place for every form::

    found = leaks({"Spot token": TOKEN}, [("function log", log_text), ("results", results)])
    assert found == [], found

A place's data may be bytes, text, or anything JSON can encode (dicts and lists are searched as
their JSON text).
"""
import base64
import json
import urllib.parse


def _base64_forms(raw):
    """The part of base64(prefix + raw) that depends on raw alone, for prefixes of 0-2 bytes."""
    found = set()
    for offset, skip in ((0, 0), (1, 2), (2, 3)):
        padded = b"\0" * offset + raw
        whole = padded[:len(padded) // 3 * 3]  # the last, partial group depends on what follows
        encoded = base64.b64encode(whole)[skip:]
        if len(encoded) >= 8:
            found.add(encoded)
            found.add(encoded.translate(bytes.maketrans(b"+/", b"-_")))
    return found


def forms(secret):
    """The byte strings that reveal `secret`: raw, URL-encoded and base64."""
    raw = secret.encode()
    return {raw, urllib.parse.quote(secret, safe="").encode(),
            urllib.parse.quote_plus(secret).encode()} | _base64_forms(raw)


def as_bytes(data):
    if isinstance(data, bytes):
        return data
    if isinstance(data, str):
        return data.encode()
    return json.dumps(data, sort_keys=True).encode()


def leaks(secrets, places):
    """Every "<secret name> (<form>…) in <place>" found; `secrets` maps names to values and
    `places` is an iterable of (description, data)."""
    places = [(where, as_bytes(data)) for where, data in places]
    found = []
    for name, secret in secrets.items():
        for form in sorted(forms(secret)):
            for where, data in places:
                if form in data:
                    found.append(f"{name} ({form[:12]!r}…) in {where}")
    return found
