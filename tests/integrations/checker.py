"""An email-checking plugin for the core's tests: verify_email over an API key, and
contact_event asking for a check of every new contact."""

from app.integrations.hookspecs import hookimpl


@hookimpl
def describe_provider():
    return {
        "name": "checker",
        "label": "Checker",
        "auth": "api_key",
        "base_url": "https://checker.invalid/",
        "api_key_fields": [{"name": "key", "label": "Key"}],
    }


@hookimpl
def verify_email(http, email):
    answer = http.get("verify", params={"email": email, "key": http.secrets["key"]})
    return {"status": answer["result"], "score": answer["score"]}


@hookimpl
def contact_event(event):
    return ["verify_email"] if event["kind"] == "created" else None
