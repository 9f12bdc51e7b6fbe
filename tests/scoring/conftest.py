"""Helpers for the lead scoring tests: rules, contacts and activities made the way users
make them (the API as admin / member), and scores read back through the API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest


def iso_days_ago(days: float) -> str:
    """An occurred_at `days` ago, as the API takes it."""
    moment = datetime.now(UTC) - timedelta(days=days)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class Scoring:
    """Drive scoring through the API: rules (admin), contacts and activities (member)."""

    def __init__(self, api):
        self.admin = api("admin")
        self.member = api("member")

    def rule(self, **data: Any) -> dict:
        response = self.admin.post("/api/v1/scoring/rules", json=data)
        assert response.status_code == 201, response.json
        return response.json

    def field_rule(self, name: str, points: int, condition: dict, **extra: Any) -> dict:
        return self.rule(name=name, kind="field", points=points, condition=condition, **extra)

    def activity_rule(self, name: str, points: int, kind: str, days: int, **extra: Any) -> dict:
        return self.rule(
            name=name, kind="activity", points=points, activity_kind=kind, within_days=days, **extra
        )

    def threshold(self, value: int | None) -> None:
        response = self.admin.patch("/api/v1/scoring/settings", json={"threshold": value})
        assert response.status_code == 200, response.json

    def contact(self, **data: Any) -> int:
        response = self.member.post("/api/v1/contacts", json=data)
        assert response.status_code == 201, response.json
        return response.json["id"]

    def patch(self, contact_id: int, **data: Any) -> dict:
        response = self.member.patch(f"/api/v1/contacts/{contact_id}", json=data)
        assert response.status_code == 200, response.json
        return response.json

    def activity(self, contact_id: int, kind: str, days_ago: float = 0, **data: Any) -> dict:
        body = {"kind": kind, "occurred_at": iso_days_ago(days_ago), **data}
        response = self.member.post(f"/api/v1/contacts/{contact_id}/activities", json=body)
        assert response.status_code == 201, response.json
        return response.json

    def score(self, contact_id: int) -> int:
        """The stored lead score, as the contact API shows it."""
        response = self.member.get(f"/api/v1/contacts/{contact_id}")
        assert response.status_code == 200, response.json
        return response.json["lead_score"]

    def explained(self, contact_id: int) -> dict:
        response = self.member.get(f"/api/v1/contacts/{contact_id}/score")
        assert response.status_code == 200, response.json
        return response.json

    def thresholds(self, contact_id: int) -> list[dict]:
        """The contact's score_threshold activities, oldest first."""
        response = self.member.get(f"/api/v1/contacts/{contact_id}/activities?limit=500")
        assert response.status_code == 200, response.json
        found = [a for a in response.json["data"] if a["kind"] == "score_threshold"]
        return sorted(found, key=lambda a: a["id"])


@pytest.fixture
def scoring(api):
    return Scoring(api)


@pytest.fixture
def run_jobs(app):
    """Run the queued jobs, as a worker would; returns how many ran."""

    def run() -> int:
        from app.jobs import runner

        with app.app_context():
            return runner.run_pending()

    return run
