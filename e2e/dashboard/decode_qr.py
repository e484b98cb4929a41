"""Decodes the QR code in a PNG with zxing-cpp (an independent decoder:
nothing of Tollgate's QR encoder is involved) and prints its text.
Exits non-zero unless exactly one QR code is found.

Usage: decode_qr.py IMAGE.png
"""

import sys

import zxingcpp
from PIL import Image


def main():
    image = Image.open(sys.argv[1]).convert("L")
    codes = [c for c in zxingcpp.read_barcodes(image) if c.format == zxingcpp.BarcodeFormat.QRCode]
    if len(codes) != 1:
        print(f"expected one QR code in {sys.argv[1]}, found {len(codes)}", file=sys.stderr)
        sys.exit(1)
    sys.stdout.write(codes[0].text)


if __name__ == "__main__":
    main()
