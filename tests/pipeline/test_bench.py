"""`kontor bench pipeline` seeds its own instance and prints its figures as JSON."""

from __future__ import annotations

import json

from app.cli import main


def test_bench_pipeline_prints_its_figures_as_json(runner):
    result = runner.invoke(
        main, args=["bench", "pipeline", "--deals", "600", "--requests", "10", "--json"]
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert figures["benchmark"] == "pipeline"
    assert figures["deals"] == 600 and figures["requests"] == 10
    assert figures["goals_ms"]["first_paint"] == 50 and figures["goals_ms"]["move"] == 20
    sqlite = figures["databases"]["sqlite"]
    assert sum(sqlite["deals_per_stage"].values()) == 600
    for key in ("first_paint", "move", "column_page"):
        assert 0 < sqlite[key]["p50_ms"] <= sqlite[key]["p95_ms"] <= sqlite[key]["max_ms"], key
        assert sqlite[key]["n"] == 10
    shown = sum(min(50, n) for n in sqlite["deals_per_stage"].values())
    assert sqlite["first_paint"]["cards"] == shown  # 50 per column at most
    assert sqlite["first_paint"]["queries"] <= 8
    assert sqlite["baseline"]["board_sql_ms"] > 0
    assert sqlite["baseline"]["empty_page"]["p50_ms"] > 0
