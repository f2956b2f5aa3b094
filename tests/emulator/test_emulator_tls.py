"""HTTPS: the emulator serves TLS with a loopback certificate from a local CA
(issue 21: every real instance is HTTPS; simple-salesforce builds https URLs only),
and the pytest plugin's fixtures start it that way."""

from __future__ import annotations

import ipaddress
import ssl

import aiohttp
import pytest
from cryptography import x509

from opencx_salesforce.emulator.app import Emulator
from opencx_salesforce.emulator.seed import default_org
from opencx_salesforce.emulator.tls import LoopbackCertificate, loopback_certificate


async def test_tls_emulator_hands_out_https_instance_urls(
    salesforce_emulator_tls: Emulator, salesforce_emulator_certificate: LoopbackCertificate
) -> None:
    emulator = salesforce_emulator_tls
    assert emulator.base_url.startswith("https://127.0.0.1:")
    app = emulator.state.add_org(default_org()).seed.apps[0]
    form = {
        "grant_type": "client_credentials",
        "client_id": app.client_id,
        "client_secret": app.client_secret,
    }
    connector = aiohttp.TCPConnector(ssl=salesforce_emulator_certificate.client_context())
    async with aiohttp.ClientSession(connector=connector) as http:
        async with http.post(f"{emulator.base_url}/services/oauth2/token", data=form) as resp:
            token = await resp.json()
        assert token["instance_url"] == emulator.base_url
        assert token["id"].startswith(emulator.base_url + "/id/")
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        url = f"{token['instance_url']}/services/data/v62.0/query?q=SELECT+Id+FROM+Case"
        async with http.get(url, headers=headers) as resp:
            assert resp.status == 200
            assert (await resp.json())["done"] is True


async def test_a_client_that_does_not_trust_the_ca_is_refused(
    salesforce_emulator_tls: Emulator,
) -> None:
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await http.get(f"{salesforce_emulator_tls.base_url}/services/data/")


def test_certificate_names_loopback_and_the_ca_is_reused(tmp_path: object) -> None:
    from pathlib import Path

    directory = Path(str(tmp_path))
    first = loopback_certificate(directory)
    ca_before = first.ca_file.read_bytes()
    second = loopback_certificate(directory)
    assert second.ca_file.read_bytes() == ca_before  # trust once, keep trusting
    leaf = x509.load_pem_x509_certificate(second.cert_file.read_bytes())
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert set(names.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    }
    # The leaf verifies against the CA alone.
    context = ssl.create_default_context(cafile=str(second.ca_file))
    assert context.cert_store_stats()["x509_ca"] == 1
    assert (directory / "emulator-key.pem").stat().st_mode & 0o077 == 0
