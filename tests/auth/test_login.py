from tests.conftest import PASSWORD


def test_login_page_then_contacts(client, auth):
    assert client.get("/contacts/").status_code == 302
    auth.login("viewer")
    response = client.get("/contacts/")
    assert response.status_code == 200


def test_wrong_password_is_refused(client, auth):
    response = auth.post("/login", data={"email": "admin@example.com", "password": "nope"})
    assert response.status_code == 401
    assert b"Wrong email or password" in response.data
    assert client.get("/contacts/").status_code == 302


def test_login_is_rate_limited(app, client, auth):
    app.config["RATELIMIT_ENABLED"] = True
    from app.extensions import limiter

    limiter.enabled = True
    codes = [
        auth.post("/login", data={"email": "admin@example.com", "password": "x"}).status_code
        for _ in range(12)
    ]
    assert 429 in codes
    limiter.reset()
    assert codes[0] == 401
    assert PASSWORD


def test_account_changes_language_and_password(client, auth):
    auth.login("viewer")
    response = auth.post("/account", data={"name": "Vi", "locale": "fr"})
    assert response.status_code == 302
    page = client.get("/account").get_data(as_text=True)
    assert "Mon compte" in page and 'lang="fr"' in page
    bad = auth.post(
        "/account", data={"current_password": "wrong", "new_password": "new password 1"}
    )
    assert bad.status_code == 422
    assert (
        auth.post(
            "/account",
            data={"current_password": PASSWORD, "new_password": "new password 1", "locale": "en"},
        ).status_code
        == 302
    )
    auth.logout()
    token = auth.csrf()
    response = client.post(
        "/login",
        data={"email": "viewer@example.com", "password": "new password 1", "csrf_token": token},
    )
    assert response.status_code == 302
