# PIL reference for PilParityTests: reads a job file, applies each PIL/torchvision operation to the
# given raw image, writes the raw result bytes. Run with /usr/bin/python3 (Debian's python3-pil).
# Job lines: "<op> <args...>"; input: <w> <h> <mode> then a raw file path; output: one raw file per line.
import sys
import numpy as np
from PIL import Image, ImageFilter, ImageOps, ImageEnhance

def hue(img, f):
    if img.mode == "L":
        return img
    h, s, v = img.convert("HSV").split()
    nh = np.array(h, dtype=np.uint8)
    with np.errstate(over="ignore"):
        nh += np.uint8(f * 255)
    return Image.merge("HSV", (Image.fromarray(nh, "L"), s, v)).convert(img.mode)

def main():
    job = open(sys.argv[1]).read().split("\n")
    for line in job:
        if not line.strip():
            continue
        parts = line.split()
        w, h, mode, src, dst, op = int(parts[0]), int(parts[1]), parts[2], parts[3], parts[4], parts[5]
        args = parts[6:]
        if op == "decode":  # src is an encoded file; the result is the decoded image in `mode`
            open(dst, "wb").write(Image.open(src).convert(mode).tobytes())
            continue
        img = Image.frombytes(mode, (w, h), open(src, "rb").read())
        if op in ("resizedcrop", "resizedcrop_bilinear"):  # left top width height outw outh
            l, t, cw, ch, ow, oh = map(int, args)
            out = img.crop((l, t, l + cw, t + ch)).resize((ow, oh), Image.BICUBIC if op == "resizedcrop" else Image.BILINEAR)
        elif op == "resize":  # outw outh
            out = img.resize((int(args[0]), int(args[1])), Image.BICUBIC)
        elif op == "brightness":
            out = ImageEnhance.Brightness(img).enhance(float(args[0]))
        elif op == "contrast":
            out = ImageEnhance.Contrast(img).enhance(float(args[0]))
        elif op == "saturation":
            out = ImageEnhance.Color(img).enhance(float(args[0]))
        elif op == "hue":
            out = hue(img, float(args[0]))
        elif op == "grayscale":
            out = img.convert("L").convert(mode)
        elif op == "blur":
            out = img.filter(ImageFilter.GaussianBlur(float(args[0])))
        elif op == "solarize":
            out = ImageOps.solarize(img, 128)
        else:
            raise SystemExit("unknown op " + op)
        open(dst, "wb").write(out.tobytes())

main()
