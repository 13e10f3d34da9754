"""Every tunable of PilotMatch lives in one pydantic-settings class.

Values come from the environment with the ``PILOTMATCH_`` prefix (nested ranking weights use ``__``, e.g.
``PILOTMATCH_RANK__TIER=0.02``) or from a ``.env`` file. The API, the CLI and the scripts all build their runtime
from one ``Settings`` instance, so a setting means the same thing everywhere.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_EMBEDDING_MODEL = "use-multilingual-v3"
DEFAULT_ENGLISH_MODEL = "all-minilm-l6-v2"
MIN_ADMIN_KEY_CHARS = 24


class RankWeights(BaseModel):
    """Weights of the ranking factors; each factor's contribution is ``weight * signal``.

    ``relevance`` scales the fused semantic/lexical relevance in [0, 1]. The other weights are the most a factor
    can add (or, for TRL and capacity, take away). Defaults were chosen on the dev set with
    ``scripts/evaluate.py --tune``; see docs/evaluation.md.
    """

    #: Scales the fused semantic and lexical relevance (in [0, 1]): relevance dominates every score.
    relevance: float = Field(0.80, ge=0.0, le=1.0)
    #: Most a platform gains for serving the need's industry directions (chosen or inferred).
    sector_fit: float = Field(0.14, ge=0.0, le=0.5)
    #: Most a platform gains (or loses) for the need's TRL against the platform's TRL range.
    trl_fit: float = Field(0.02, ge=0.0, le=0.5)
    #: Most a platform gains for offering the service types the need asks for.
    service_types: float = Field(0.05, ge=0.0, le=0.5)
    #: Most a platform gains for being in a province the need prefers.
    region: float = Field(0.02, ge=0.0, le=0.5)
    #: Most a platform gains (or loses) for its stated capacity.
    capacity: float = Field(0.01, ge=0.0, le=0.5)
    #: Most a platform gains for its tier (national above key-cultivated, provincial, reserve), scaled by relevance.
    tier: float = Field(0.03, ge=0.0, le=0.2)
    #: Most a platform gains for serving a policy-priority direction, scaled by relevance.
    sector_priority: float = Field(0.02, ge=0.0, le=0.2)
    #: Relevance gap (on the 0-1 relevance scale) beyond which tier and sector priority may never reorder two
    #: platforms. Enforced: ``tier + sector_priority`` must stay below ``relevance * relevance_margin``.
    relevance_margin: float = Field(0.08, gt=0.0, le=0.5)

    @model_validator(mode="after")
    def _policy_cannot_outweigh_relevance(self) -> RankWeights:
        if self.tier + self.sector_priority >= self.relevance * self.relevance_margin:
            raise ValueError(
                "tier + sector_priority must be smaller than relevance * relevance_margin, otherwise tier or "
                "policy priority could lift a clearly less relevant platform above a more relevant one"
            )
        return self


class FusionSettings(BaseModel):
    """How the dense and lexical channels are fused into one relevance in [0, 1]."""

    #: How far BM25 evidence may lift relevance when query and profile share Chinese.
    lexical_weight_zh: float = Field(0.6, ge=0.0, le=2.0)
    #: How far BM25 evidence may lift relevance when query and profile share English.
    lexical_weight_en: float = Field(0.8, ge=0.0, le=2.0)
    #: 0 lets BM25 lift any profile; 1 lets it lift a profile only in proportion to its dense relevance.
    lexical_gate: float = Field(0.25, ge=0.0, le=2.0)
    #: Lift given to a cross-language pair in proportion to its own dense relevance (BM25 sees nothing there).
    cross_language_weight: float = Field(0.3, ge=0.0, le=2.0)
    #: Normalised BM25 score at which lexical relevance reaches 1 - 1/e (it saturates smoothly above).
    lexical_saturation: float = Field(0.2, gt=0.0, le=1.0)
    #: How far the query's terms, translated through the bilingual lexicon, may lift a profile written in the
    #: other language.
    translated_weight: float = Field(0.7, ge=0.0, le=2.0)
    #: The translated terms' BM25 score at which that evidence reaches 1 - 1/e.
    translated_saturation: float = Field(0.35, gt=0.0, le=1.0)
    #: Dense relevance is ``sigmoid(slope * (cosine - midpoint))``; each built-in embedder has measured values,
    #: these override them (for a custom model, measure with ``scripts/evaluate.py``). This is the midpoint.
    dense_midpoint: float | None = Field(None, ge=-1.0, le=1.0)
    #: The slope of that logistic (unset: the embedder's measured value).
    dense_slope: float | None = Field(None, gt=0.0, le=500.0)
    #: Where query and profile are both English, this share of dense relevance comes from the English model
    #: (``english_model``) instead of the multilingual one; its cosine maps through its own logistic.
    english_weight: float = Field(0.5, ge=0.0, le=1.0)
    #: The cosine at which the English model's relevance is one half.
    english_midpoint: float = Field(0.45, ge=-1.0, le=1.0)
    #: The slope of the English model's logistic.
    english_slope: float = Field(6.0, gt=0.0, le=500.0)
    #: Share of an English query's cross-language pair (English query, Chinese profile text) that the English model's
    #: reading of the profile's glosses takes from the multilingual model. 0 gives that share back to the
    #: multilingual model; the English words a Chinese profile has (its English name) still count through
    #: ``english_weight``, read by the English model over all of the profile's rows, glosses included.
    gloss_weight: float = Field(0.5, ge=0.0, le=1.0)
    #: Cosine taken off a best-passage similarity per unit of ln(passages it was the best of), so a long general
    #: profile does not outrank a short specialist on the luck of its many passages. On the dev set 0.015-0.03
    #: all lift NDCG@10 by about 0.005 over none (decision record 0009).
    passage_discount: float = Field(0.02, ge=0.0, le=0.1)


class Settings(BaseSettings):
    """PilotMatch configuration. docs/configuration.md lists every variable (generated from this class by
    ``scripts/settings_doc.py``)."""

    @field_validator("admin_key")
    @classmethod
    def _admin_key_is_strong(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_ADMIN_KEY_CHARS:
            raise ValueError(
                f"PILOTMATCH_ADMIN_KEY must be at least {MIN_ADMIN_KEY_CHARS} characters long; a short key can "
                "be guessed. Generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        return value

    @property
    def retry_delays(self) -> list[float]:
        return [float(x) for x in self.webhook_retry_delays.split(",") if x.strip()]

    model_config = SettingsConfigDict(
        env_prefix="PILOTMATCH_", env_nested_delimiter="__", env_file=".env", extra="ignore"
    )

    #: The database, the source of truth: SQLite (the embedded default) or ``postgresql+psycopg://...``.
    database_url: str = "sqlite:///./data/pilotmatch.db"
    #: Where index snapshots are kept; every index can be rebuilt from the database (``pilotmatch reindex``).
    index_dir: Path = Path("./indexes")
    #: A built-in embedder name (``use-multilingual-v3``, ``multilingual-e5-small``, ``all-minilm-l6-v2``) or the
    #: path of any local sentence-transformers model directory.
    embedding_model: str = DEFAULT_EMBEDDING_MODEL
    #: A second, English-only embedder for texts that are mostly English (a built-in name or a local
    #: sentence-transformers directory); empty turns the English channel off. Multilingual models trade English
    #: precision for reach across languages: on English-English pairs MiniLM is far stronger than USE.
    english_model: str = DEFAULT_ENGLISH_MODEL
    #: Where models converted on first use are kept (MiniLM's ONNX graph); default ``~/.cache/pilotmatch``.
    model_cache_dir: Path | None = None
    #: Threads the embedder, BLAS and FAISS may use in one process; more threads than cores makes them slower,
    #: not faster. With several processes on one machine use cores / processes (``serve --workers`` does).
    embedding_threads: int = Field(2, ge=1, le=64)
    #: A fixed admin key (at least 24 characters: the service refuses to start with a shorter one). Unset, the
    #: CLI creates a random admin key in the database and prints it once.
    admin_key: SecretStr | None = None
    #: ``text`` (key=value lines) or ``json`` (one object per line).
    log_format: str = Field("text", pattern="^(text|json)$")
    #: The lowest level logged (``DEBUG``, ``INFO``, ``WARNING``, ``ERROR``).
    log_level: str = "INFO"
    #: Largest accepted request body, in bytes (bulk imports of 1,000 profiles fit comfortably).
    max_body_bytes: int = Field(8 * 1024 * 1024, ge=1024)
    #: Characters per passage when long capability texts are split for embedding.
    passage_chars: int = Field(240, ge=40, le=4000)
    #: How a multi-passage profile's semantic score is formed: its best passage ("max", measured better) or the
    #: mean of its two best ("top2mean").
    passage_aggregation: str = Field("max", pattern="^(max|top2mean)$")
    #: Above this many passage vectors a corpus's dense index becomes approximate (IVF); 0 keeps it exact.
    approximate_index_above: int = Field(50_000, ge=0)
    #: Inverted lists an approximate index probes per query (more: higher recall, slower).
    dense_nprobe: int = Field(64, ge=1, le=4096)
    #: How often a process saves changed index snapshots (so a restart replays little of the log).
    snapshot_seconds: float = Field(600.0, gt=0)
    #: Candidates each channel contributes before ranking.
    candidate_pool: int = Field(100, ge=10, le=5000)
    #: Pseudo-relevance feedback: a query the multilingual model alone reads (not mostly English, or the English
    #: channel off) or a short English one is moved toward the profiles of its ``expansion_depth`` best-ranked
    #: platforms by this weight, and ranked again. 0 turns it off. Measured on the dev set; see docs/evaluation.md.
    expansion_weight: float = Field(0.2, ge=0.0, le=1.0)
    #: How many best-ranked platforms the query is moved toward.
    expansion_depth: int = Field(3, ge=1, le=20)
    #: English queries of at most this many words (a title or a search phrase, not a summary) get feedback too.
    expansion_english_words: int = Field(12, ge=0, le=1000)
    #: Calibrated scores at or above this read as a "good" fit: a first result this good is relevant at least 85%
    #: of the time (docs/evaluation.md measures it).
    good_fit_score: float = Field(0.85, ge=0.0, le=1.0)
    #: Calibrated scores at or above this (and below ``good_fit_score``) read as a "possible" fit: relevant at
    #: least half the time.
    possible_fit_score: float = Field(0.5, ge=0.0, le=1.0)
    #: A need is unmet demand (the coverage report counts it; ``/v1/match`` answers ``unmet_demand``) when its
    #: best platform scores below this: the highest cut that calls at most 10% of the labelled needs with a
    #: fitting first result unmet (``scripts/evaluate.py --calibrate``).
    unmet_demand_score: float = Field(0.4, ge=0.0, le=1.0)
    #: Results shown even when they read "weak": the first this many (so a need nothing fits still sees its
    #: nearest platforms). Weak results after them are left out unless a request asks ``include_weak``.
    weak_results_shown: int = Field(3, ge=0, le=100)
    #: Defaults for platforms that set none: notify of technologies that rank in a platform's best
    #: ``notify_top_k`` with a calibrated score of at least ``notify_min_score``.
    notify_top_k: int = Field(5, ge=1, le=100)
    #: The default lowest calibrated score a notification needs (see ``notify_top_k``).
    notify_min_score: float = Field(0.3, ge=0.0, le=1.0)
    #: The fewest platforms a funnel count may cover for a caller without the admin key: narrower counts would be
    #: single platforms' activity, which only the admin reads (1 turns the rule off).
    report_min_platforms: int = Field(3, ge=1, le=100)
    #: Days a platform has to answer a technology it was notified of before it gets one reminder (inbox and
    #: e-mail digest).
    response_reminder_days: float = Field(7.0, gt=0, le=365)
    #: Days a platform profile may go without an edit or a confirmation before its operator is asked to confirm
    #: it is still true (inbox, webhooks and e-mail digest).
    profile_stale_days: float = Field(365.0, gt=0, le=3650)
    #: Days after that request before an unconfirmed profile is marked stale: shown as such, counted apart in
    #: coverage, and ranked after fresh profiles of the same score.
    profile_stale_grace_days: float = Field(60.0, ge=0, le=3650)
    #: Seconds between webhook retries (comma-separated); after the last, a delivery is dead-lettered.
    webhook_retry_delays: str = Field(
        "5,30,120,600,1800,7200", pattern=r"^\s*\d+(\.\d+)?(\s*,\s*\d+(\.\d+)?)*\s*$"
    )
    #: Admits loopback and private networks as webhook targets (an intranet deployment, tests). Link-local
    #: addresses and cloud metadata services stay refused.
    webhook_allow_private: bool = False
    #: Most webhook endpoints one platform may register.
    webhooks_per_platform: int = Field(5, ge=1, le=100)
    #: Seconds a webhook delivery may take (connect, send and read the answer) before it counts as failed.
    webhook_timeout_seconds: float = Field(10.0, gt=0, le=60)
    #: An endpoint that has failed without a success for this long is disabled (the platform is told).
    webhook_disable_after_hours: float = Field(24.0, gt=0)
    #: How long a worker's claim on a delivery lasts; a killed worker's claims are retried after this.
    webhook_lease_seconds: float = Field(60.0, gt=0, le=3600)
    #: ``smtp://user:pass@host:587`` (STARTTLS when offered) or ``smtps://...``; unset means no e-mail.
    smtp_url: SecretStr | None = None
    #: The sender of digest e-mails.
    smtp_from: str = "PilotMatch <noreply@pilotmatch.local>"
    #: At most one digest e-mail per platform per this many minutes.
    email_batch_minutes: float = Field(15.0, ge=0)
    #: Base URL put in e-mail links.
    public_url: str = "http://127.0.0.1:8000"
    #: How often each process reads the change log for writes made by other processes (API processes stay
    #: in step within about this long).
    sync_poll_seconds: float = Field(0.5, gt=0, le=60)
    #: How often the delivery worker looks for due work.
    worker_poll_seconds: float = Field(1.0, gt=0, le=60)
    #: Run the delivery worker inside ``pilotmatch serve`` (the embedded default); production runs
    #: ``pilotmatch worker`` processes instead and sets this to false.
    run_worker_in_process: bool = True
    #: Anonymous ``/v1/match`` and search-page requests each client may make per minute (a token bucket whose
    #: burst is this many); 0 turns the limit off. Keyed requests have their own, higher limit.
    match_rate_limit: int = Field(120, ge=0)
    #: Technologies each client may submit without a key per minute (``POST /v1/submissions`` and the web form),
    #: on top of the match limit: each is a stored row that platforms are told of. 0 turns the limit off.
    submission_rate_limit: int = Field(10, ge=0)
    #: Applications to join each client may send without a key per minute (``POST /v1/platform-applications``
    #: and the web form): each is a row an administrator must review. 0 turns the limit off.
    application_rate_limit: int = Field(3, ge=0)
    #: Addresses of reverse proxies whose ``X-Forwarded-For`` and ``X-Forwarded-Proto`` are believed (a
    #: comma-separated list, or ``*``), so per-client limits count the real client behind them. Empty (the
    #: default): no proxy is believed, not even one on loopback, and each connection counts as its own address.
    forwarded_allow_ips: str = Field("", max_length=2000)
    #: Hold a platform operator's edit for an administrator's review when it moves the profile into another key
    #: area, replaces every service type it offered, or adds capability text unlike the published one (see
    #: ``review_capabilities_similarity``); false applies every operator edit at once.
    review_operator_edits: bool = True
    #: An operator's new capability passage whose cosine similarity to every published passage is below this
    #: (the multilingual model's) is held for review; 0 turns this check off.
    review_capabilities_similarity: float = Field(0.6, ge=0.0, le=1.0)
    #: Matches per minute for each API key (its own token bucket); 0 turns the limit off.
    keyed_match_rate_limit: int = Field(1200, ge=0)
    #: Matches one process computes at once, and how many more may wait; a request that finds the queue full
    #: is answered 503 with ``Retry-After`` at once instead of waiting without end.
    match_concurrency: int = Field(2, ge=1, le=64)
    #: How many more matches may wait for a slot before new ones are answered 503 (see ``match_concurrency``).
    match_queue: int = Field(32, ge=0, le=10_000)
    #: ``/metrics`` needs the admin key unless this is true (a scraper on a trusted network).
    metrics_public: bool = False
    rank: RankWeights = RankWeights()
    fusion: FusionSettings = FusionSettings()
