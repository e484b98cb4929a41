"""Tollgate's redaction engine against Microsoft Presidio, same corpora, same run.

Presidio runs offline with its pattern and rule recognizers only (its spaCy
model cannot be downloaded here): an AnalyzerEngine whose NLP engine splits
on whitespace and lower-cases for lemmas, so Presidio's context words still
raise its scores. Our engine runs through the `redact_jsonl` example binary.

Scoring is the same for both (and the same as `corpus::score` in the crate):
a prediction is a true positive if it overlaps a labelled value of its kind;
a labelled value is found only if every letter and digit of it is covered by
some prediction and one prediction of its kind overlaps it.
"""

import logging

logging.disable(logging.WARNING)

import argparse
import json
import random
import subprocess
import sys
import time
from collections import defaultdict

from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
from presidio_analyzer.nlp_engine import NlpArtifacts, NlpEngine

# Presidio entity -> our kind code. Only kinds both sides can find.
PRESIDIO_KINDS = {
    "CREDIT_CARD": "card",
    "US_SSN": "ssn",
    "PHONE_NUMBER": "phone",
    "EMAIL_ADDRESS": "email",
    "US_BANK_NUMBER": "bank_account",
    "ABA_ROUTING_NUMBER": "routing_number",
}
# presidio-evaluator's generated labels -> our kind code.
FAKER_KINDS = {
    "CREDIT_CARD": "card",
    "US_SSN": "ssn",
    "PHONE_NUMBER": "phone",
    "EMAIL_ADDRESS": "email",
}


class WhitespaceNlpEngine(NlpEngine):
    """An NLP engine with no model: whitespace tokens, lower-case lemmas."""

    def __init__(self):
        self._loaded = True

    def load(self):
        pass

    def is_loaded(self):
        return True

    def get_supported_languages(self):
        return ["en"]

    def get_supported_entities(self):
        return []

    def process_text(self, text, language):
        tokens, indices = [], []
        pos = 0
        for tok in text.split():
            start = text.index(tok, pos)
            tokens.append(tok)
            indices.append(start)
            pos = start + len(tok)
        lemmas = [t.lower().strip(".,;:!?\"'()") for t in tokens]
        return NlpArtifacts(entities=[], tokens=tokens, tokens_indices=indices, lemmas=lemmas, nlp_engine=self, language=language)

    def process_batch(self, texts, language, batch_size=1, n_process=1, **kwargs):
        for t in texts:
            yield t, self.process_text(t, language)

    def is_stopword(self, word, language):
        return word.lower() in {"the", "a", "an", "is", "my", "of", "to", "and", "it", "in"}

    def is_punct(self, word, language):
        return all(not c.isalnum() for c in word)


def presidio_engine():
    nlp = WhitespaceNlpEngine()
    registry = RecognizerRegistry(supported_languages=["en"])
    registry.load_predefined_recognizers(languages=["en"], nlp_engine=nlp)
    for name in ("SpacyRecognizer",):
        try:
            registry.remove_recognizer(name)
        except Exception:
            pass
    return AnalyzerEngine(registry=registry, nlp_engine=nlp, supported_languages=["en"])


def byte_to_char(text):
    """Map from UTF-8 byte offset to str index."""
    m = {}
    b = 0
    for i, ch in enumerate(text):
        m[b] = i
        b += len(ch.encode("utf-8"))
    m[b] = len(text)
    return m


def run_ours(driver, texts, strict=False):
    payload = "".join(json.dumps({"text": t}) + "\n" for t in texts)
    args = [driver] + (["--strict"] if strict else [])
    t0 = time.perf_counter()
    out = subprocess.run(args, input=payload.encode(), capture_output=True, check=True).stdout.decode()
    elapsed = time.perf_counter() - t0
    preds = []
    for text, line in zip(texts, out.splitlines()):
        m = byte_to_char(text)
        preds.append([(k, m[s], m[e]) for k, s, e in json.loads(line)["findings"]])
    return preds, elapsed


def run_presidio(engine, texts, threshold):
    preds = []
    for t in texts:
        res = engine.analyze(text=t, language="en", entities=list(PRESIDIO_KINDS), score_threshold=threshold)
        preds.append([(PRESIDIO_KINDS[r.entity_type], r.start, r.end) for r in res])
    return preds


def score(samples, preds, kinds):
    """samples: [(text, [(kind, start, end)])]; returns {kind: [tp, fp, gold, found]}."""
    c = defaultdict(lambda: [0, 0, 0, 0])
    for (text, gold), pred in zip(samples, preds):
        pred = [p for p in pred if p[0] in kinds]
        for k, s, e in pred:
            hit = any(gk == k and s < ge and gs < e for gk, gs, ge in gold)
            c[k][0 if hit else 1] += 1
        for gk, gs, ge in gold:
            if gk not in kinds:
                continue
            c[gk][2] += 1
            same = any(k == gk and s < ge and gs < e for k, s, e in pred)
            covered = all(not text[i].isalnum() or any(s <= i < e for _, s, e in pred) for i in range(gs, ge))
            if same and covered:
                c[gk][3] += 1
    return c


def prf(v):
    tp, fp, gold, found = v
    p = tp / (tp + fp) if tp + fp else 1.0
    r = found / gold if gold else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def table(title, samples, columns, kinds):
    print(f"\n### {title}\n")
    head = "| kind | gold | " + " | ".join(f"{name} P / R / F1" for name, _ in columns) + " |"
    print(head)
    print("|" + "---|" * (2 + len(columns)))
    scored = [(name, score(samples, preds, kinds)) for name, preds in columns]
    totals = {name: [0, 0, 0, 0] for name, _ in columns}
    for k in kinds:
        gold = scored[0][1][k][2]
        cells = []
        for name, c in scored:
            v = c[k]
            totals[name] = [a + b for a, b in zip(totals[name], v)]
            p, r, f = prf(v)
            cells.append(f"{p:.3f} / {r:.3f} / {f:.3f}")
        print(f"| {k} | {gold} | " + " | ".join(cells) + " |")
    cells = []
    for name, _ in columns:
        p, r, f = prf(totals[name])
        cells.append(f"**{p:.3f} / {r:.3f} / {f:.3f}**")
    print(f"| all (micro) | {totals[columns[0][0]][2]} | " + " | ".join(cells) + " |")
    return {name: prf(totals[name])[2] for name, _ in columns}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--driver", required=True)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--transcript", help="transcript text for Presidio's throughput")
    ap.add_argument("--faker", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--min-f1-margin", type=float, default=0.0, help="fail unless our F1 beats Presidio's by this")
    args = ap.parse_args()

    engine = presidio_engine()
    ok = True

    # (a) Our corpus.
    samples = []
    with open(args.corpus) as f:
        for line in f:
            o = json.loads(line)
            m = byte_to_char(o["text"])
            samples.append((o["text"], [(k, m[s], m[e]) for k, s, e in o["labels"]]))
    texts = [t for t, _ in samples]
    ours, _ = run_ours(args.driver, texts)
    t0 = time.perf_counter()
    pres0 = run_presidio(engine, texts, 0.0)
    pres_time = time.perf_counter() - t0
    pres5 = run_presidio(engine, texts, 0.5)
    kinds = ["card", "ssn", "phone", "email", "bank_account", "routing_number"]
    f1 = table(
        f"Our corpus ({len(samples)} sentences, kinds Presidio also covers)",
        samples,
        [("Tollgate", ours), ("Presidio >= 0.0", pres0), ("Presidio >= 0.5", pres5)],
        kinds,
    )
    if f1["Tollgate"] <= max(f1["Presidio >= 0.0"], f1["Presidio >= 0.5"]) + args.min_f1_margin:
        print("FAIL: our F1 does not beat Presidio's on our corpus")
        ok = False

    # (b) presidio-evaluator's own templates, generated offline.
    import logging

    logging.disable(logging.WARNING)
    from presidio_evaluator.data_generator import PresidioSentenceFaker

    random.seed(args.seed)
    faker = PresidioSentenceFaker(locale="en_US", lower_case_ratio=0.0, random_seed=args.seed)
    fake = faker.generate_new_fake_sentences(args.faker)
    samples = []
    for s in fake:
        gold = [(FAKER_KINDS[sp.entity_type], sp.start_position, sp.end_position) for sp in s.spans if sp.entity_type in FAKER_KINDS]
        # Values of other types stay unlabelled; predictions on them count as false positives.
        samples.append((s.full_text, gold))
    texts = [t for t, _ in samples]
    ours, _ = run_ours(args.driver, texts)
    pres0 = run_presidio(engine, texts, 0.0)
    pres5 = run_presidio(engine, texts, 0.5)
    f1 = table(
        f"presidio-evaluator sentences ({len(samples)} generated, seed {args.seed})",
        samples,
        [("Tollgate", ours), ("Presidio >= 0.0", pres0), ("Presidio >= 0.5", pres5)],
        list(FAKER_KINDS.values()),
    )
    if f1["Tollgate"] <= max(f1["Presidio >= 0.0"], f1["Presidio >= 0.5"]) + args.min_f1_margin:
        print("FAIL: our F1 does not beat Presidio's on presidio-evaluator's sentences")
        ok = False

    if args.transcript:
        with open(args.transcript) as f:
            text = f.read()
        calls = [text[i : i + 8192] for i in range(0, len(text), 8192)]
        t0 = time.perf_counter()
        for c in calls:
            engine.analyze(text=c, language="en")
        el = time.perf_counter() - t0
        mb = len(text.encode()) / 1e6
        print(f"\nPresidio throughput (all predefined recognizers, no spaCy model): {mb:.2f} MB in {el:.2f} s = {mb / el:.3f} MB/s")

    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
