"""A sentence-transformers model run by ONNX Runtime: the same vectors at a fraction of torch's per-call cost.

On this class of machine (2 CPU cores) torch spends about 8 ms of fixed overhead on every call to a 6-layer
MiniLM, even for a two-word query; ONNX Runtime runs the same graph in about 3 ms (6 ms for a 30-word summary),
which is what lets an English channel sit on the match path. The model directory is exported to ONNX once (with
torch, which sentence-transformers already brings), its weights quantised to int8 per channel (1.8x the
passages per second, 4 ms instead of 6 for a summary; vectors within cosine 0.986 of torch's, and the dev set's
NDCG@10 unchanged to the third decimal), and cached by content fingerprint; a process that finds the cached graph
never imports torch. Tokenising uses the directory's own ``tokenizer.json`` with the Rust
``tokenizers`` library, and pooling follows the directory's ``1_Pooling/config.json``.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from pathlib import Path

import numpy as np

from matcher.matching.embedders.base import dir_fingerprint, unit_rows

log = logging.getLogger("pilotmatch.embedders")

#: Probe used to check an export against the torch model it came from.
_PROBE = "Pilot-scale durability testing of a proton-exchange-membrane electrolyser stack."
#: The int8 graph's vectors must stay this close to torch's (measured: 0.986 at worst on 150 profile passages).
MIN_COSINE = 0.98


class OnnxSentenceEmbedder:
    """A BERT-style sentence-transformers directory (mean or CLS pooling) under ONNX Runtime."""

    calibration = (0.45, 10.0)

    def __init__(self, path: Path, model_id: str, cache_dir: Path, threads: int = 2) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        if not (path / "tokenizer.json").is_file():
            raise ValueError(f"{path} has no tokenizer.json (not a sentence-transformers model directory)")
        self.model_id = model_id
        self._pooling = _pooling_mode(path)
        max_len = int(_read_json(path / "sentence_bert_config.json").get("max_seq_length", 256))
        self._tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_len)
        self._tokenizer.no_padding()  # padded per batch below, to the batch's longest text
        graph = exported_graph(path, model_id, cache_dir)
        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, min(threads, os.cpu_count() or 1))
        options.inter_op_num_threads = 1
        # Idle threads must not spin: several API processes share the cores (see runtime.limit_compute_threads).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self._session.get_inputs()}
        self.dim = int(self._session.get_outputs()[0].shape[-1])

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self.embed_passages(texts)

    def embed_passages(self, texts: list[str], batch: int = 32) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        encodings = self._tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))  # little padding per batch
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(order), batch):
            chunk = order[start : start + batch]
            out[chunk] = self._run([encodings[i] for i in chunk])
        return out

    def _run(self, encodings: list) -> np.ndarray:
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        types = np.zeros_like(ids)
        for r, e in enumerate(encodings):
            n = len(e.ids)
            ids[r, :n], mask[r, :n], types[r, :n] = e.ids, e.attention_mask, e.type_ids
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        hidden = self._session.run(None, {k: v for k, v in feeds.items() if k in self._inputs})[0]
        if self._pooling == "cls":
            pooled = hidden[:, 0]
        else:
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return unit_rows(pooled)


def exported_graph(path: Path, model_id: str, cache_dir: Path) -> Path:
    """The cached ONNX graph of a model directory, exported now if missing (atomically: processes starting
    together may both export; the last rename wins and both files are the same)."""
    target = cache_dir / f"{model_id.replace('/', '_')}-{dir_fingerprint(path)}.int8.onnx"
    if target.is_file():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    full = target.with_suffix(f".{os.getpid()}.fp32.tmp")
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    log.info("event=onnx_export model=%s target=%s", model_id, target)
    try:
        _export(path, full, tmp)
        tmp.replace(target)
    finally:
        full.unlink(missing_ok=True)
        tmp.unlink(missing_ok=True)
    return target


def _export(path: Path, full: Path, target: Path) -> None:
    """Export the transformer of a sentence-transformers directory to ``full``, quantise it into ``target`` and
    check that against torch on a probe."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import onnxruntime as ort
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
    transformer = model[0].auto_model.eval()
    tokens = model.tokenizer([_PROBE], return_tensors="pt")
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in tokens]

    class Hidden(torch.nn.Module):
        """Keyword arguments in, last hidden state out: the exporter passes inputs positionally."""

        def __init__(self) -> None:
            super().__init__()
            self.inner = transformer

        def forward(self, *args: torch.Tensor) -> torch.Tensor:
            return self.inner(**dict(zip(names, args, strict=True))).last_hidden_state

    axes = {n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]}
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's notes on tracing and opsets, not problems
        torch.onnx.export(
            Hidden(),
            tuple(tokens[n] for n in names),
            str(full),
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )
        expected = model.encode([_PROBE], normalize_embeddings=True)[0]
        quantize_dynamic(str(full), str(target), weight_type=QuantType.QInt8, per_channel=True)
    session = ort.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    hidden = session.run(None, {n: tokens[n].numpy() for n in names})[0]
    mask = tokens["attention_mask"].numpy()[..., None].astype(np.float32)
    pooled = hidden[:, 0] if _pooling_mode(path) == "cls" else (hidden * mask).sum(1) / mask.sum(1)
    got = unit_rows(pooled)[0]
    if float(got @ expected) < MIN_COSINE:
        raise RuntimeError(
            f"the ONNX export of {path} does not reproduce the model (cosine {got @ expected:.4f})"
        )


def _pooling_mode(path: Path) -> str:
    config = _read_json(path / "1_Pooling" / "config.json")
    if config.get("pooling_mode_cls_token"):
        return "cls"
    if config.get("pooling_mode_mean_tokens", True):
        return "mean"
    raise ValueError(f"{path}: only mean or CLS pooling can run under ONNX Runtime")


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
