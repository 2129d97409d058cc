"""TLS contexts for relay connections and what a handshake revealed."""

from __future__ import annotations

import ssl
from functools import lru_cache
from pathlib import Path

from cryptography import x509

from smtp_profile.mail.diagnosis import Failure
from smtp_profile.mail.plan import TlsInfo, TlsPolicy

_EXPIRED_CODES = {9, 10}  # X509_V_ERR_CERT_NOT_YET_VALID, X509_V_ERR_CERT_HAS_EXPIRED
_NAME_CODES = {62, 64}  # X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH
_PLAIN_REPLY_REASONS = {
    "WRONG_VERSION_NUMBER",
    "UNKNOWN_PROTOCOL",
    "HTTP_REQUEST",
    "PACKET_LENGTH_TOO_LONG",
    "RECORD_LAYER_FAILURE",
}


CERTIFICATE_FAILURES = frozenset(
    {Failure.CERT_UNTRUSTED, Failure.CERT_EXPIRED, Failure.CERT_WRONG_NAME}
)


def client_context(policy: TlsPolicy) -> ssl.SSLContext:
    return _cached_context(policy.verify, policy.ca_file)


@lru_cache(maxsize=8)
def _cached_context(verify: bool, ca_file: Path | None) -> ssl.SSLContext:
    """System trust store plus the operator's CA file; built once (loading is slow)."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    if ca_file is not None:
        context.load_verify_locations(cafile=str(ca_file))
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def classify_tls_error(error: ssl.SSLError) -> Failure:
    if isinstance(error, ssl.SSLCertVerificationError):
        if error.verify_code in _EXPIRED_CODES:
            return Failure.CERT_EXPIRED
        if error.verify_code in _NAME_CODES:
            return Failure.CERT_WRONG_NAME
        return Failure.CERT_UNTRUSTED
    if (error.reason or "") in _PLAIN_REPLY_REASONS:
        return Failure.TLS_ON_PLAIN_PORT
    return Failure.TLS_FAILED


def describe_tls_error(error: ssl.SSLError) -> str:
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"certificate verification failed: {error.verify_message}"
    return f"TLS error: {error.reason or error}"


def session_info(ssl_object: ssl.SSLObject | ssl.SSLSocket | None, *, verified: bool) -> TlsInfo:
    if ssl_object is None:
        return TlsInfo()
    cipher = ssl_object.cipher()
    info = TlsInfo(
        version=ssl_object.version(),
        cipher=cipher[0] if cipher else None,
        verified=verified,
    )
    der = ssl_object.getpeercert(binary_form=True)
    return certificate_info(der, info) if der else info


def certificate_info(der: bytes, base: TlsInfo) -> TlsInfo:
    certificate = x509.load_der_x509_certificate(der)
    return TlsInfo(
        version=base.version,
        cipher=base.cipher,
        verified=base.verified,
        subject=certificate.subject.rfc4514_string(),
        issuer=certificate.issuer.rfc4514_string(),
        not_after=certificate.not_valid_after_utc.isoformat(),
        verify_error=base.verify_error,
    )
