"""Mail domains that belong to mailbox providers rather than to a company: a Domain Search
on them finds nobody (and would spend a search), so enrichment skips them."""

from __future__ import annotations

_DOMAINS = """
    gmail.com googlemail.com yahoo.com yahoo.co.uk yahoo.fr yahoo.de yahoo.es yahoo.it
    ymail.com rocketmail.com hotmail.com hotmail.co.uk hotmail.fr hotmail.de hotmail.es
    hotmail.it outlook.com outlook.fr outlook.de live.com live.fr live.co.uk msn.com
    aol.com aol.fr icloud.com me.com mac.com gmx.com gmx.net gmx.de gmx.fr web.de
    t-online.de freenet.de proton.me protonmail.com pm.me tutanota.com tuta.io
    fastmail.com fastmail.fm hey.com zoho.com zohomail.com yandex.com yandex.ru
    mail.ru bk.ru inbox.ru list.ru qq.com 163.com 126.com sina.com naver.com
    orange.fr wanadoo.fr free.fr laposte.net sfr.fr neuf.fr bbox.fr numericable.fr
    libero.it virgilio.it tiscali.it btinternet.com sky.com virginmedia.com
    comcast.net verizon.net att.net sbcglobal.net cox.net earthlink.net
    mail.com email.com usa.com inbox.com seznam.cz wp.pl o2.pl interia.pl
"""
WEBMAIL = frozenset(_DOMAINS.split())


def is_webmail(domain: str) -> bool:
    """True for a mailbox provider's domain (or a subdomain of one)."""
    domain = domain.lower().strip(".")
    parts = domain.split(".")
    return any(".".join(parts[i:]) in WEBMAIL for i in range(len(parts) - 1))
