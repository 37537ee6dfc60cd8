"""The dashboard (Horizon's place): server-rendered pages at /dashboard that act with the
signed-in user's token through the same REST APIs as any client (`overcast.clients`).

`service.py` mounts it; `sessions.py` keeps the token server side; `web.py` is the page
machinery (session, CSRF, errors, security headers); `pages/` holds one module per page group.
"""
