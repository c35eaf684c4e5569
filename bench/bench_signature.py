"""Cost of the trusted time and long-term validation data of the electronic signature
(cpo/signatures/pdf.py, docs/decisions/2026-12-07-electronic-signature.md): signing time and file
size of a PAdES signature with an RFC 3161 timestamp and its certificates and CRLs (B-LT) against
the same signature without them (B-B), measured in ONE process, alternating both modes on the same
document — the machine is shared, so only the ratio within one run means something.

Each round signs a 4-page agreement-like PDF twice in a row (the association's seal, then the
funder's certificate: two incremental updates, as a real agreement) in each mode. The
time-stamping authority is the test PKI's, in process (pyHanko's DummyTimeStamper): a network
TSA in production adds its round trip (tens to hundreds of ms) on top of what is measured here.
No database is used.

Run:  .venv/bin/python bench/bench_signature.py [--rounds 15]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")


def document() -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4, invariant=True)
    for page in range(4):
        for line in range(45):
            pdf.drawString(60, 780 - 16 * line, f"Article {page}.{line} — clause de la convention")
        pdf.showPage()
    pdf.save()
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings

    from cpo.signatures import pdf as pades
    from cpo.signatures.pki import make_test_pki

    pki = make_test_pki(Path(tempfile.mkdtemp(prefix="bench-pki-")))
    settings.SIGNATURE_TRUST_ROOTS = [str(pki.ca)]
    settings.SIGNATURE_CRLS = [str(pki.crl)]
    settings.SIGNATURE_TSA_URL = ""
    settings.SIGNATURE_TSA_PKCS12 = str(pki.tsa)
    settings.SIGNATURE_TSA_TRUST_ROOTS = []
    settings.SIGNATURE_PASSPHRASES = {"TSA": pki.passphrase}
    seal = pades.load_signer(str(pki.seal), pki.passphrase, owner="seal")
    funder = pades.load_signer(str(pki.funder), pki.passphrase, owner="funder")
    original = document()

    def sign_both(long_term: bool) -> tuple[float, bytes]:
        start = time.perf_counter()
        content = original
        for position, signer in ((1, seal), (2, funder)):
            content = pades.sign_pdf(
                content,
                signer,
                position=position,
                field_name=f"Signature{position}",
                stamp_lines=["Signé électroniquement", "bench"],
                reason="bench",
                name="bench",
                long_term=long_term,
            )
        return time.perf_counter() - start, content

    sign_both(True)  # warm-up: imports, key loading, font metrics
    times: dict[bool, list[float]] = {False: [], True: []}
    ratios: list[float] = []
    sizes: dict[bool, int] = {}
    for _ in range(args.rounds):
        for long_term in (False, True):
            elapsed, content = sign_both(long_term)
            times[long_term].append(elapsed)
            sizes[long_term] = len(content)
        ratios.append(times[True][-1] / times[False][-1])

    base, lt = statistics.median(times[False]), statistics.median(times[True])
    print(f"document: {len(original)} bytes; {args.rounds} rounds of two signatures per mode")
    print(f"B-B  (no timestamp, no DSS): median {base * 1000:.1f} ms, size {sizes[False]} bytes")
    print(f"B-LT (timestamp + DSS):      median {lt * 1000:.1f} ms, size {sizes[True]} bytes")
    print(
        f"ratio B-LT / B-B: time {lt / base:.2f} (median of per-round ratios "
        f"{statistics.median(ratios):.2f}), size {sizes[True] / sizes[False]:.2f} "
        f"(+{sizes[True] - sizes[False]} bytes)"
    )


if __name__ == "__main__":
    main()
