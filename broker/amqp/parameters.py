"""pika connection parameters from our settings: credentials, TLS, timeouts, client properties."""

from __future__ import annotations

import ssl
from typing import Any

import pika  # noqa: TID251 - this package owns pika
import pika.credentials  # noqa: TID251

from broker.amqp.settings import AmqpSettings, BrokerAddress

__all__ = ["connection_parameters"]

PRODUCT = "liaison"


def _credentials(settings: AmqpSettings, address: BrokerAddress) -> Any:
    username = settings.username or address.username
    password = settings.password if settings.password is not None else address.password
    if password is None and settings.tls_cert_file is not None:
        # No password anywhere but a client certificate: the certificate is the identity
        # (SASL EXTERNAL, rabbitmq_auth_mechanism_ssl).
        return pika.credentials.ExternalCredentials()
    if username is None and password is None:
        username = password = "guest"  # noqa: S105 - an AMQP URL without user info, as in pika
    return pika.PlainCredentials(username or "", password or "", erase_on_connect=False)


def _ssl_options(settings: AmqpSettings, address: BrokerAddress) -> Any:
    # create_default_context verifies the peer's certificate and its hostname.
    context = ssl.create_default_context(
        cafile=str(settings.tls_ca_file) if settings.tls_ca_file else None
    )
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if settings.tls_cert_file is not None and settings.tls_key_file is not None:
        context.load_cert_chain(str(settings.tls_cert_file), str(settings.tls_key_file))
    return pika.SSLOptions(context, server_hostname=address.host)


def connection_parameters(settings: AmqpSettings, address: BrokerAddress) -> Any:
    """pika ConnectionParameters for one attempt at ``address``.

    Raises OSError or ssl.SSLError when a TLS file cannot be read; the link counts that as a
    failed attempt.
    """
    return pika.ConnectionParameters(
        host=address.host,
        port=address.port,
        virtual_host=address.vhost,
        credentials=_credentials(settings, address),
        heartbeat=settings.heartbeat,
        ssl_options=_ssl_options(settings, address) if address.tls else None,
        # One attempt per parameters object: the link runs its own retries and failover.
        connection_attempts=1,
        socket_timeout=settings.connection_attempt_timeout,
        stack_timeout=settings.connection_attempt_timeout,
        blocked_connection_timeout=settings.blocked_connection_timeout,
        client_properties={"connection_name": settings.connection_name, "product": PRODUCT},
    )
