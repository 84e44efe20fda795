"""OpenID Connect login (authorization code flow with PKCE, state and nonce), through authlib.

Several providers may be configured (ProConnect for State agents, a bailleur's own IdP...).
The state, nonce, PKCE verifier and return address travel in a signed, short-lived cookie.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import AsyncOAuth2Client
from itsdangerous import BadSignature, URLSafeTimedSerializer
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from portal.settings import OidcProviderSettings, get_settings

COOKIE = "portal_oidc"
FLOW_MAX_AGE = 600
_metadata_cache: dict[str, tuple[float, dict[str, Any]]] = {}


class OidcError(Exception):
    pass


@dataclass(frozen=True)
class VerifiedIdentity:
    subject: str
    email: str | None
    email_verified: bool
    full_name: str


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(get_settings().secret_key, salt="oidc-flow")


def redirect_uri(provider: OidcProviderSettings) -> str:
    return f"{get_settings().base_url}/login/oidc/{provider.name}/callback"


async def _get_json(url: str) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(url)
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data


async def metadata(provider: OidcProviderSettings) -> dict[str, Any]:
    cached = _metadata_cache.get(provider.issuer)
    if cached and cached[0] > time.monotonic():
        return cached[1]
    try:
        meta = await _get_json(f"{provider.issuer}/.well-known/openid-configuration")
        meta["jwks"] = await _get_json(meta["jwks_uri"])
    except (httpx.HTTPError, KeyError, ValueError) as exc:
        raise OidcError(f"Fournisseur d'identité injoignable : {exc}") from exc
    if meta.get("issuer", "").rstrip("/") != provider.issuer:
        raise OidcError("Le fournisseur d'identité annonce un autre émetteur que celui configuré.")
    _metadata_cache[provider.issuer] = (time.monotonic() + 3600, meta)
    return meta


def _client(provider: OidcProviderSettings) -> AsyncOAuth2Client:
    return AsyncOAuth2Client(
        client_id=provider.client_id,
        client_secret=provider.client_secret,
        scope=provider.scope,
        redirect_uri=redirect_uri(provider),
        code_challenge_method="S256",
        timeout=10,
    )


async def begin(provider: OidcProviderSettings, next_url: str) -> tuple[str, str]:
    """Returns the provider's authorization URL and the signed flow cookie value."""
    meta = await metadata(provider)
    verifier = generate_token(64)
    nonce = generate_token(32)
    async with _client(provider) as client:
        url, state = client.create_authorization_url(
            meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce
        )
    flow = {"p": provider.name, "s": state, "n": nonce, "v": verifier, "next": next_url}
    return url, _serializer().dumps(flow)


def read_flow(cookie: str | None, provider: OidcProviderSettings, state: str) -> dict[str, str]:
    if not cookie:
        raise OidcError("La connexion a expiré. Recommencez depuis la page de connexion.")
    try:
        flow: dict[str, str] = _serializer().loads(cookie, max_age=FLOW_MAX_AGE)
    except BadSignature as exc:
        raise OidcError("La connexion a expiré. Recommencez depuis la page de connexion.") from exc
    if flow.get("p") != provider.name or not state or flow.get("s") != state:
        raise OidcError("Réponse du fournisseur d'identité inattendue (state invalide).")
    return flow


async def finish(
    provider: OidcProviderSettings, flow: dict[str, str], code: str
) -> VerifiedIdentity:
    meta = await metadata(provider)
    async with _client(provider) as client:
        try:
            token = await client.fetch_token(
                meta["token_endpoint"], code=code, code_verifier=flow["v"]
            )
        except Exception as exc:  # authlib raises several unrelated types here
            raise OidcError(f"Échange du code refusé par le fournisseur : {exc}") from exc
        try:
            decoded = jwt.decode(token["id_token"], KeySet.import_key_set(meta["jwks"]))
            jwt.JWTClaimsRegistry(
                leeway=60,
                iss={"essential": True, "value": meta["issuer"]},
                aud={"essential": True, "value": provider.client_id},
                nonce={"essential": True, "value": flow["n"]},
                sub={"essential": True},
                exp={"essential": True},
            ).validate(decoded.claims)
        except (JoseError, KeyError, ValueError) as exc:
            raise OidcError(f"Jeton d'identité invalide : {exc}") from exc
        data: dict[str, Any] = dict(decoded.claims)
        # Providers conforming strictly to OIDC Core return scope claims from userinfo only.
        if "email" not in data and meta.get("userinfo_endpoint"):
            try:
                # The client sends the access token it just received.
                response = await client.get(meta["userinfo_endpoint"])
                response.raise_for_status()
            except Exception as exc:  # network or HTTP error from the provider
                raise OidcError(f"Profil refusé par le fournisseur d'identité : {exc}") from exc
            if response.headers.get("content-type", "").startswith("application/json"):
                info = response.json()
                if info.get("sub") == data["sub"]:
                    data.update({k: v for k, v in info.items() if k != "sub"})
    email = data.get("email")
    verified = provider.trust_email or data.get("email_verified") is True
    name = data.get("name") or " ".join(
        p for p in (data.get("given_name"), data.get("family_name") or data.get("usual_name")) if p
    )
    return VerifiedIdentity(
        subject=str(data["sub"]),
        email=email.strip().lower() if isinstance(email, str) else None,
        email_verified=verified,
        full_name=name or (email or ""),
    )
