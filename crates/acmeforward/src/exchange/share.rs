//! Sharing one exchange's answer with other clients who asked the same question while it was
//! in flight: each gets the answer rebuilt for its own query.

use core::fmt;

use crate::exchange::client::{Client, QueryError};
use crate::exchange::machine::Exchange;
use crate::exchange::rewrite;
use crate::wire::Transport;

/// Why [`Exchange::answer_for`] gave no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ShareError {
    /// The other client's query is not one an exchange could take.
    Query(QueryError),
    /// The other client asks another question: name, type, class, DO or CD differ.
    OtherQuestion,
    /// The exchange has no answer to share: it is still running, or it failed.
    NotAnswered,
}

impl ShareError {
    /// A static, operator-readable description (the FFI hands it out as is).
    pub fn as_str(&self) -> &'static str {
        match self {
            ShareError::Query(e) => e.as_str(),
            ShareError::OtherQuestion => {
                "the query asks another question than the exchange's (name, type, class, DO or CD)"
            }
            ShareError::NotAnswered => "the exchange has no answer to share",
        }
    }
}

impl fmt::Display for ShareError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for ShareError {}

impl From<QueryError> for ShareError {
    fn from(e: QueryError) -> Self {
        ShareError::Query(e)
    }
}

impl Exchange {
    /// The answer of this exchange for another client that asked the same question while it
    /// was in flight (see [`Exchange::new`] for `query` and `client`), into `out` (cleared
    /// first): rebuilt from the same validated records with that client's ID, letter case, RD
    /// and EDNS0, cut to its own size. One upstream exchange then serves every identical
    /// question in flight at once. Only once [`Exchange::poll`] says [`Action::Answer`]; takes
    /// `&self`, so several threads may call it at once.
    ///
    /// [`Action::Answer`]: crate::Action::Answer
    pub fn answer_for(
        &self,
        query: &[u8],
        client: Transport,
        out: &mut Vec<u8>,
    ) -> Result<(), ShareError> {
        let other = Client::parse(query, client)?;
        let Some(valid) = self.answered() else {
            return Err(ShareError::NotAnswered);
        };
        if !self.client.asks_as(&other) {
            return Err(ShareError::OtherQuestion);
        }
        out.clear();
        // The leader's reply was built from the same records, so this fails only where the
        // leader's would have; it then shares nothing.
        rewrite::client_reply(&other, self.max_ttl, valid, out).map_err(|_| ShareError::NotAnswered)
    }
}

#[cfg(test)]
#[path = "share_tests.rs"]
mod tests;
