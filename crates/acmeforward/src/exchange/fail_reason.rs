//! Why an exchange gave up ([`FailReason`]): what [`crate::Action::Fail`] carries, for the
//! client's SERVFAIL, the logs and the C result codes.

use core::fmt;

use crate::exchange::validate::ReplyError;

/// Why an exchange gave up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FailReason {
    /// The last reply seen was rejected for this reason.
    Reply(ReplyError),
    /// The last send got no usable reply (timeout, network error: [`Exchange::on_failure`]).
    NoReply,
    /// [`MAX_SENDS`] queries were sent without an answer.
    SendLimit,
    /// Authoritative mode: the resolvers' replies named no zone, nameserver or address to ask.
    NoNameservers,
    /// The exchange's `max_time` ran out.
    TimeLimit,
    /// Hairpin: the lookup of the target name through the rest of the plugin chain failed (no
    /// reply, an invalid one, SERVFAIL, REFUSED, NXDOMAIN). The target is configured and must
    /// exist; a negative answer would be cached by clients as the truth about the public name.
    HairpinTarget,
}

impl FailReason {
    /// A static, operator-readable description.
    pub fn as_str(&self) -> &'static str {
        match self {
            FailReason::Reply(e) => e.as_str(),
            FailReason::NoReply => "no reply from the last server tried (timeout or network error)",
            FailReason::SendLimit => "gave up after the most queries one exchange may send",
            FailReason::NoNameservers => {
                "authoritative mode: no zone nameserver address found through the resolvers"
            }
            FailReason::TimeLimit => "gave up when the exchange's max_time ran out",
            FailReason::HairpinTarget => {
                "hairpin: the lookup of the target name through the rest of the plugin chain failed (no reply, an invalid reply, SERVFAIL, REFUSED or NXDOMAIN)"
            }
        }
    }
}

impl fmt::Display for FailReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
