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
