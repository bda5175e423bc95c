#!/usr/bin/env python3
"""`$ZEUSHOME/admin/bin/cert -f fingerprint -in FILE`: the SHA-1 fingerprint of a PEM certificate,
in the colon-separated form the configure banner and the Admin UI show. Standard library only."""

import argparse
import base64
import binascii
import hashlib
import re
import sys


def fingerprint(pem: str, algorithm: str = "sha1") -> str:
    m = re.search(r"-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----", pem, re.S)
    if not m:
        raise ValueError("no PEM certificate found")
    der = base64.b64decode("".join(m[1].split()), validate=True)
    return ":".join(f"{b:02X}" for b in hashlib.new(algorithm, der).digest())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="cert", description="Show facts about a certificate.")
    parser.add_argument("-f", dest="field", choices=["fingerprint", "sha256"], required=True)
    parser.add_argument("-in", dest="infile", required=True, help="PEM certificate file")
    args = parser.parse_args(argv)
    try:
        with open(args.infile, encoding="ascii") as f:
            pem = f.read()
        print(fingerprint(pem, "sha1" if args.field == "fingerprint" else "sha256"))
    except (OSError, ValueError, binascii.Error, UnicodeDecodeError) as e:
        print(f"cert: {args.infile}: {getattr(e, 'strerror', None) or e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
