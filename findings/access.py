"""Who may write findings, by deployment (issue 31, criterion 6). Pure Python: the app turns a
Gradio sign-in (`gr.OAuthProfile`) or Gradio's own login (`gr.Request.username`) into the name
passed here; a user name typed into an ordinary input never reaches it.

- local (served on 127.0.0.1, no SPACE_ID): the one user, "local", writes without signing in.
- a Hugging Face Space (SPACE_ID set): writing needs "Sign in with Hugging Face"; a user edits and
  deletes only their own rows; the instructors (MINIBERT_INSTRUCTORS) may moderate any row.
- any other public deployment: writes are off unless Gradio's own login (launch(auth=...)) is on.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
LOCAL_USER = "local"


@dataclass(frozen=True)
class Writer:
    """A user the deployment lets write: their name and whether they may moderate others' rows."""

    name: str
    moderator: bool = False

    def may_change(self, author: str) -> bool:
        return self.moderator or author == self.name


@dataclass(frozen=True)
class Deployment:
    kind: str                                   # "local" | "space" | "public"
    auth: bool = False                          # Gradio's own login configured (public deployments)
    instructors: frozenset[str] = frozenset()

    @classmethod
    def detect(cls, host: str | None, space_id: str | None, auth: bool = False,
               instructors: Iterable[str] = ()) -> Deployment:
        names = frozenset(n.strip() for n in instructors if n.strip())
        if space_id:
            return cls("space", auth, names)
        if (host or "127.0.0.1") in LOCAL_HOSTS:
            return cls("local", auth, names)
        return cls("public", auth, names)

    @property
    def signs_in(self) -> bool:
        """Whether the page needs a "Sign in with Hugging Face" button."""
        return self.kind == "space"

    def writer(self, profile_name: str | None = None, login_name: str | None = None) -> Writer | None:
        """The writer for a request, or None when this request may not write. `profile_name` is
        the signed-in Hugging Face user (gr.OAuthProfile.username), `login_name` Gradio's own
        login (gr.Request.username); both come from the server, never from a form field."""
        if self.kind == "local":
            return Writer(LOCAL_USER, moderator=True)
        if self.kind == "space":
            if not profile_name:
                return None
            return Writer(profile_name, moderator=profile_name in self.instructors)
        # Gradio sets the request's user name only when its own login is configured.
        if login_name:
            return Writer(login_name, moderator=login_name in self.instructors)
        return None

    def why_not(self, to: str = "tag, note and save slices") -> str:
        """What a reader is told when they may not write (`to`: what they wanted to do)."""
        if self.kind == "space":
            return f"Sign in with Hugging Face (the button at the top of the Findings tab) to {to}."
        if self.kind == "public" and not self.auth:
            return (f"Writing findings is off on this public deployment: it has no login, so nobody may {to} "
                    "here. Run it with Gradio's login (launch(auth=...)), on a Hugging Face Space, or locally.")
        return f"Log in to {to}."
