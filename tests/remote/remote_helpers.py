"""What the remote engine's tests share: the description of a server under test, a keyring."""

from __future__ import annotations

from dataclasses import dataclass

from keyring.backend import KeyringBackend


@dataclass(frozen=True)
class ServerUnderTest:
    name: str
    base_url: str
    api_key: str | None
    model: str  # a model it serves


class MemoryKeyring(KeyringBackend):
    """A keyring backend in memory, standing in for the OS's (a real ``keyring`` backend)."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.passwords: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.passwords[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.passwords.pop((service, username), None)
