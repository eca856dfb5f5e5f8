"""What an API key must be scoped for to call each route (a session token may call them all).

- `read`: every GET, and the POSTs that only read (rendering a template).
- `write`: every other change to what the user owns: questions, drafts, videos, templates.
- `admin`: managing API keys and webhooks (a leaked read or write key cannot mint keys, or send
  the user's events elsewhere), and the administrators' routes. What a key may manage it may
  also list: reading keys, webhooks and limits takes `read` or `admin`.

Decided from the route the request matched, so a new route falls under the rule of its tag and
method without a line here; `tests/api/test_api_key_scopes.py` walks every route.
"""

from fastapi.routing import APIRoute

from app.db.models import ApiKeyScope

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Tags whose every route needs `admin`: the administrators' own.
ADMIN_TAGS = frozenset({"config", "invitations"})
# Tags whose changes need `admin` (listing them is a read).
ADMIN_WRITE_TAGS = frozenset({"api keys", "webhooks", "limits"})
# POST routes that change nothing.
READ_ONLY_POSTS = frozenset({"render_template"})


def required_scopes(route: APIRoute, method: str) -> frozenset[ApiKeyScope]:
    """The scopes of which a key needs one to call the route."""
    tags = {str(tag) for tag in route.tags}
    if tags & ADMIN_TAGS:
        return frozenset({ApiKeyScope.ADMIN})
    reads = method in SAFE_METHODS or route.name in READ_ONLY_POSTS
    if tags & ADMIN_WRITE_TAGS:
        return frozenset({ApiKeyScope.READ, ApiKeyScope.ADMIN} if reads else {ApiKeyScope.ADMIN})
    return frozenset({ApiKeyScope.READ if reads else ApiKeyScope.WRITE})
