//! Result codes, verdicts and their texts.

use std::ffi::{CStr, CString, c_char, c_uint};
use std::sync::OnceLock;

use acmeforward::{ConfigError, FailReason, QueryError, ReplyError, ShareError, Verdict};

use crate::boundary::{PanicValue, ffi_boundary};

/// The result of an `afwd_*` call: `AFWD_OK`, `AFWD_TRUNCATED`, or an error.
///
/// 1xx: misuse of the C API or an internal failure. 2xx: configuration rejected. 3xx: client query
/// rejected by `afwd_exchange_new` (the shim answers the client itself, e.g. SERVFAIL).
/// 4xx (and `AFWD_TRUNCATED`): upstream (or hairpin internal) reply rejected by
/// `afwd_exchange_reply`; the exchange has already moved on (poll it for the next action). 5xx:
/// why an exchange gave up without a reply error to blame (`afwd_action.fail_reason` of a FAIL;
/// otherwise that is the last 4xx), and `AFWD_ERR_HAIRPIN_TARGET_FAILED` for every failed hairpin
/// lookup.
/// `afwd_result_text` describes every code.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum afwd_result {
    /// Success.
    AFWD_OK = 0,
    /// The upstream reply had the TC bit set: the exchange asks the same server again over TCP
    /// (already over TCP: the next server).
    AFWD_TRUNCATED = 1,
    /// `afwd_prefetch_reply`: the internal view's reply to an `AFWD_PREFETCH_INTERNAL` question
    /// was used, and says it knows the nameserver host asked about: the host keeps its internal
    /// answer (counted `internal_name`). Log it once per host, with the fix: name the host
    /// with `public_hosts` if clients need its public address.
    AFWD_KEPT_INTERNAL = 2,
    /// A required pointer was NULL (or a NULL data pointer came with a non-zero length).
    AFWD_ERR_NULL_ARGUMENT = 100,
    /// The output buffer is too short; `*out_n` holds the needed length and nothing was written.
    AFWD_ERR_BUFFER_TOO_SHORT = 101,
    /// A Rust panic was caught at the C boundary (a bug in acmeforward).
    AFWD_ERR_PANIC = 102,
    /// A text argument is not valid UTF-8.
    AFWD_ERR_INVALID_UTF8 = 103,
    /// An index argument is past the end.
    AFWD_ERR_INDEX_OUT_OF_RANGE = 104,
    /// `afwd_exchange_reply` or `afwd_exchange_failed` on an exchange that is not waiting for a
    /// reply (its action is ANSWER or FAIL): nothing was changed.
    AFWD_ERR_EXCHANGE_DONE = 105,
    /// `afwd_exchange_answer_for` on an exchange without an answer (its action is not ANSWER).
    AFWD_ERR_EXCHANGE_NOT_ANSWERED = 106,
    /// Zone: the name is empty.
    AFWD_ERR_NAME_EMPTY = 200,
    /// Zone: the name has an empty label (e.g. `a..b`).
    AFWD_ERR_NAME_EMPTY_LABEL = 201,
    /// Zone: a label is longer than 63 octets.
    AFWD_ERR_NAME_LABEL_TOO_LONG = 202,
    /// Zone: the name is longer than 255 octets in wire form.
    AFWD_ERR_NAME_TOO_LONG = 203,
    /// Zone: a bad `\` escape.
    AFWD_ERR_NAME_BAD_ESCAPE = 204,
    /// Upstream: not an IP address.
    AFWD_ERR_ADDRESS_INVALID = 205,
    /// Upstream: the port is not a number in 1..=65535.
    AFWD_ERR_PORT_INVALID = 206,
    /// Timeout outside 1 ms ..= 60 s.
    AFWD_ERR_TIMEOUT_OUT_OF_RANGE = 207,
    /// max_ttl outside 0 ..= 604800.
    AFWD_ERR_MAX_TTL_OUT_OF_RANGE = 208,
    /// `afwd_config_new`: no upstream was added (the Corefile needs `to ADDRESS`).
    AFWD_ERR_NO_UPSTREAM = 209,
    /// max_learned outside 16 ..= 1048576.
    AFWD_ERR_MAX_LEARNED_OUT_OF_RANGE = 210,
    /// `afwd_config_builder_set_upstream_mode`: not an `afwd_upstream_mode` value.
    AFWD_ERR_UPSTREAM_MODE_INVALID = 211,
    /// Hairpin: a NAME is an IP literal (the IP literals go last, as the targets).
    AFWD_ERR_HAIRPIN_NAME_IS_ADDRESS = 212,
    /// Hairpin: the line does not have at least one NAME and one TARGET.
    AFWD_ERR_HAIRPIN_MISSING_TARGET = 213,
    /// Hairpin: a `*` other than a leading `*.` in a NAME (or `*.` alone, the root).
    AFWD_ERR_HAIRPIN_BAD_WILDCARD = 214,
    /// Hairpin: the target name is not a valid domain name (or is the root, or has a `*`).
    AFWD_ERR_HAIRPIN_TARGET_INVALID = 215,
    /// Hairpin: a NAME given twice (in this line, or in an earlier one).
    AFWD_ERR_HAIRPIN_DUPLICATE_NAME = 216,
    /// `delegated .`: the root cannot be a delegated zone (it would forward every question).
    AFWD_ERR_DELEGATED_ROOT = 217,
    /// `protect .`: the root cannot be protected (nothing could be forwarded).
    AFWD_ERR_PROTECTED_ROOT = 218,
    /// A listed zone is at or below a protected zone.
    AFWD_ERR_ZONE_PROTECTED = 219,
    /// A delegated zone is at or below a protected zone.
    AFWD_ERR_DELEGATED_PROTECTED = 220,
    /// `allow_ns`: not `IP/PREFIX` or `IP`.
    AFWD_ERR_NET_INVALID = 221,
    /// max_time outside 10 ms ..= 300 s.
    AFWD_ERR_MAX_TIME_OUT_OF_RANGE = 222,
    /// max_concurrent outside 1 ..= 1000000.
    AFWD_ERR_MAX_CONCURRENT_OUT_OF_RANGE = 223,
    /// Hairpin: a NAME is the root.
    AFWD_ERR_HAIRPIN_ROOT_NAME = 224,
    /// Challenge label: empty.
    AFWD_ERR_LABEL_EMPTY = 225,
    /// Challenge label: does not start with `_`.
    AFWD_ERR_LABEL_NO_UNDERSCORE = 226,
    /// Challenge label: longer than 63 characters.
    AFWD_ERR_LABEL_TOO_LONG = 227,
    /// Challenge label: a character other than ASCII letters, digits, `-` and `_`.
    AFWD_ERR_LABEL_BAD_CHARACTER = 228,
    /// Challenge label: already added (case-insensitively).
    AFWD_ERR_LABEL_DUPLICATE = 229,
    /// Challenge label: more than 16.
    AFWD_ERR_TOO_MANY_LABELS = 230,
    /// Hairpin: the target is neither IP literals nor a host name (e.g. `10.1.2.3:443`).
    AFWD_ERR_HAIRPIN_TARGET_NOT_HOST_NAME = 231,
    /// Hairpin: a NAME is not a host name (e.g. `10.1.2.3:443` before the IP targets).
    AFWD_ERR_HAIRPIN_NAME_NOT_HOST_NAME = 232,
    /// Hairpin: a NAME is at or below a protected zone (`afwd_config_builder_add_hairpin`, or
    /// `afwd_config_builder_add_protected` after it).
    AFWD_ERR_HAIRPIN_PROTECTED = 233,
    /// A `public_hosts` name is the root.
    AFWD_ERR_PUBLIC_HOST_ROOT = 240,
    /// A `public_hosts` name is at or below a protected zone.
    AFWD_ERR_PUBLIC_HOST_PROTECTED = 241,
    /// A configuration error that this version of the C ABI has no own code for (a newer core).
    AFWD_ERR_CONFIG_INVALID = 299,
    /// The client query does not parse (also the code for a query error without an own code).
    AFWD_ERR_QUERY_MALFORMED = 300,
    /// The client message is a response (QR set), not a query.
    AFWD_ERR_QUERY_NOT_A_QUERY = 301,
    /// The client query's opcode is not QUERY.
    AFWD_ERR_QUERY_UNSUPPORTED_OPCODE = 302,
    /// The client query does not have exactly one question.
    AFWD_ERR_QUERY_QUESTION_COUNT = 303,
    /// `afwd_exchange_answer_for`: the query asks another question than the exchange's (name,
    /// type, class, DO or CD differ).
    AFWD_ERR_QUERY_OTHER_QUESTION = 304,
    /// `afwd_exchange_new`: the query does not ask the question of the classification given, or
    /// its verdict is not FORWARD or HAIRPIN.
    AFWD_ERR_QUERY_NOT_CLASSIFIED = 305,
    /// The upstream reply does not parse (also the code for a reply error without an own code).
    AFWD_ERR_REPLY_MALFORMED = 400,
    /// The upstream message is not a response (QR clear).
    AFWD_ERR_REPLY_NOT_A_RESPONSE = 401,
    /// The upstream reply's ID is not the upstream query's.
    AFWD_ERR_REPLY_ID_MISMATCH = 402,
    /// The upstream reply's opcode is not the query's.
    AFWD_ERR_REPLY_OPCODE_MISMATCH = 403,
    /// The upstream reply's question is not byte-for-byte the upstream query's (incl. case).
    AFWD_ERR_REPLY_QUESTION_MISMATCH = 404,
    /// The upstream reply has an answer record off the question name and its CNAME chain.
    AFWD_ERR_REPLY_FOREIGN_RECORD = 405,
    /// The upstream answered SERVFAIL, REFUSED, NOTIMP or FORMERR: try the next upstream.
    AFWD_ERR_REPLY_UPSTREAM_FAILURE = 406,
    /// Authoritative mode: the nameserver's reply does not have the AA bit set.
    AFWD_ERR_REPLY_NOT_AUTHORITATIVE = 407,
    /// The reply came at or after its try's deadline: dropped, the exchange moved on.
    AFWD_ERR_REPLY_LATE = 408,
    /// The upstream reply is NXDOMAIN but has records of the name it says does not exist (the
    /// end of the CNAME chain): try the next upstream.
    AFWD_ERR_REPLY_NXDOMAIN_WITH_DATA = 409,
    /// FAIL: the last server tried gave no reply (timeout, network error).
    AFWD_ERR_NO_REPLY = 500,
    /// FAIL: the exchange sent as many queries as it may without getting an answer.
    AFWD_ERR_SEND_LIMIT = 501,
    /// FAIL (authoritative mode): the resolvers' replies named no zone, nameserver or address to
    /// ask.
    AFWD_ERR_NO_NAMESERVERS = 502,
    /// FAIL (hairpin): the lookup of the target name through the rest of the plugin chain
    /// (`AFWD_ACTION_INTERNAL`) failed: no reply, an invalid one, SERVFAIL, REFUSED or NXDOMAIN.
    AFWD_ERR_HAIRPIN_TARGET_FAILED = 503,
    /// FAIL: the exchange's max_time ran out.
    AFWD_ERR_TIME_LIMIT = 504,
    /// FAIL for a reason this version of the C ABI has no own code for (a newer core).
    AFWD_ERR_EXCHANGE_FAILED = 599,
}

/// Every `afwd_result`, in code order.
pub(crate) const ALL_RESULTS: [afwd_result; 69] = {
    use afwd_result::*;
    [
        AFWD_OK,
        AFWD_TRUNCATED,
        AFWD_KEPT_INTERNAL,
        AFWD_ERR_NULL_ARGUMENT,
        AFWD_ERR_BUFFER_TOO_SHORT,
        AFWD_ERR_PANIC,
        AFWD_ERR_INVALID_UTF8,
        AFWD_ERR_INDEX_OUT_OF_RANGE,
        AFWD_ERR_EXCHANGE_DONE,
        AFWD_ERR_EXCHANGE_NOT_ANSWERED,
        AFWD_ERR_NAME_EMPTY,
        AFWD_ERR_NAME_EMPTY_LABEL,
        AFWD_ERR_NAME_LABEL_TOO_LONG,
        AFWD_ERR_NAME_TOO_LONG,
        AFWD_ERR_NAME_BAD_ESCAPE,
        AFWD_ERR_ADDRESS_INVALID,
        AFWD_ERR_PORT_INVALID,
        AFWD_ERR_TIMEOUT_OUT_OF_RANGE,
        AFWD_ERR_MAX_TTL_OUT_OF_RANGE,
        AFWD_ERR_NO_UPSTREAM,
        AFWD_ERR_MAX_LEARNED_OUT_OF_RANGE,
        AFWD_ERR_UPSTREAM_MODE_INVALID,
        AFWD_ERR_HAIRPIN_NAME_IS_ADDRESS,
        AFWD_ERR_HAIRPIN_MISSING_TARGET,
        AFWD_ERR_HAIRPIN_BAD_WILDCARD,
        AFWD_ERR_HAIRPIN_TARGET_INVALID,
        AFWD_ERR_HAIRPIN_DUPLICATE_NAME,
        AFWD_ERR_DELEGATED_ROOT,
        AFWD_ERR_PROTECTED_ROOT,
        AFWD_ERR_ZONE_PROTECTED,
        AFWD_ERR_DELEGATED_PROTECTED,
        AFWD_ERR_NET_INVALID,
        AFWD_ERR_MAX_TIME_OUT_OF_RANGE,
        AFWD_ERR_MAX_CONCURRENT_OUT_OF_RANGE,
        AFWD_ERR_HAIRPIN_ROOT_NAME,
        AFWD_ERR_LABEL_EMPTY,
        AFWD_ERR_LABEL_NO_UNDERSCORE,
        AFWD_ERR_LABEL_TOO_LONG,
        AFWD_ERR_LABEL_BAD_CHARACTER,
        AFWD_ERR_LABEL_DUPLICATE,
        AFWD_ERR_TOO_MANY_LABELS,
        AFWD_ERR_HAIRPIN_TARGET_NOT_HOST_NAME,
        AFWD_ERR_HAIRPIN_NAME_NOT_HOST_NAME,
        AFWD_ERR_HAIRPIN_PROTECTED,
        AFWD_ERR_PUBLIC_HOST_ROOT,
        AFWD_ERR_PUBLIC_HOST_PROTECTED,
        AFWD_ERR_CONFIG_INVALID,
        AFWD_ERR_QUERY_MALFORMED,
        AFWD_ERR_QUERY_NOT_A_QUERY,
        AFWD_ERR_QUERY_UNSUPPORTED_OPCODE,
        AFWD_ERR_QUERY_QUESTION_COUNT,
        AFWD_ERR_QUERY_OTHER_QUESTION,
        AFWD_ERR_QUERY_NOT_CLASSIFIED,
        AFWD_ERR_REPLY_MALFORMED,
        AFWD_ERR_REPLY_NOT_A_RESPONSE,
        AFWD_ERR_REPLY_ID_MISMATCH,
        AFWD_ERR_REPLY_OPCODE_MISMATCH,
        AFWD_ERR_REPLY_QUESTION_MISMATCH,
        AFWD_ERR_REPLY_FOREIGN_RECORD,
        AFWD_ERR_REPLY_UPSTREAM_FAILURE,
        AFWD_ERR_REPLY_NOT_AUTHORITATIVE,
        AFWD_ERR_REPLY_LATE,
        AFWD_ERR_REPLY_NXDOMAIN_WITH_DATA,
        AFWD_ERR_NO_REPLY,
        AFWD_ERR_SEND_LIMIT,
        AFWD_ERR_NO_NAMESERVERS,
        AFWD_ERR_HAIRPIN_TARGET_FAILED,
        AFWD_ERR_TIME_LIMIT,
        AFWD_ERR_EXCHANGE_FAILED,
    ]
};

impl From<ConfigError> for afwd_result {
    fn from(e: ConfigError) -> Self {
        use afwd_result::*;
        match e {
            ConfigError::NameEmpty => AFWD_ERR_NAME_EMPTY,
            ConfigError::NameEmptyLabel => AFWD_ERR_NAME_EMPTY_LABEL,
            ConfigError::NameLabelTooLong => AFWD_ERR_NAME_LABEL_TOO_LONG,
            ConfigError::NameTooLong => AFWD_ERR_NAME_TOO_LONG,
            ConfigError::NameBadEscape => AFWD_ERR_NAME_BAD_ESCAPE,
            ConfigError::AddressInvalid => AFWD_ERR_ADDRESS_INVALID,
            ConfigError::PortInvalid => AFWD_ERR_PORT_INVALID,
            ConfigError::TimeoutOutOfRange => AFWD_ERR_TIMEOUT_OUT_OF_RANGE,
            ConfigError::MaxTtlOutOfRange => AFWD_ERR_MAX_TTL_OUT_OF_RANGE,
            ConfigError::NoUpstream => AFWD_ERR_NO_UPSTREAM,
            ConfigError::MaxLearnedOutOfRange => AFWD_ERR_MAX_LEARNED_OUT_OF_RANGE,
            ConfigError::HairpinNameIsAddress => AFWD_ERR_HAIRPIN_NAME_IS_ADDRESS,
            ConfigError::HairpinMissingTarget => AFWD_ERR_HAIRPIN_MISSING_TARGET,
            ConfigError::HairpinBadWildcard => AFWD_ERR_HAIRPIN_BAD_WILDCARD,
            ConfigError::HairpinTargetInvalid => AFWD_ERR_HAIRPIN_TARGET_INVALID,
            ConfigError::HairpinDuplicateName => AFWD_ERR_HAIRPIN_DUPLICATE_NAME,
            ConfigError::DelegatedRoot => AFWD_ERR_DELEGATED_ROOT,
            ConfigError::ProtectedRoot => AFWD_ERR_PROTECTED_ROOT,
            ConfigError::ZoneProtected => AFWD_ERR_ZONE_PROTECTED,
            ConfigError::DelegatedProtected => AFWD_ERR_DELEGATED_PROTECTED,
            ConfigError::NetInvalid => AFWD_ERR_NET_INVALID,
            ConfigError::MaxTimeOutOfRange => AFWD_ERR_MAX_TIME_OUT_OF_RANGE,
            ConfigError::MaxConcurrentOutOfRange => AFWD_ERR_MAX_CONCURRENT_OUT_OF_RANGE,
            ConfigError::HairpinRootName => AFWD_ERR_HAIRPIN_ROOT_NAME,
            ConfigError::LabelEmpty => AFWD_ERR_LABEL_EMPTY,
            ConfigError::LabelNoUnderscore => AFWD_ERR_LABEL_NO_UNDERSCORE,
            ConfigError::LabelTooLong => AFWD_ERR_LABEL_TOO_LONG,
            ConfigError::LabelBadCharacter => AFWD_ERR_LABEL_BAD_CHARACTER,
            ConfigError::LabelDuplicate => AFWD_ERR_LABEL_DUPLICATE,
            ConfigError::TooManyLabels => AFWD_ERR_TOO_MANY_LABELS,
            ConfigError::HairpinTargetNotHostName => AFWD_ERR_HAIRPIN_TARGET_NOT_HOST_NAME,
            ConfigError::HairpinNameNotHostName => AFWD_ERR_HAIRPIN_NAME_NOT_HOST_NAME,
            ConfigError::HairpinProtected => AFWD_ERR_HAIRPIN_PROTECTED,
            ConfigError::PublicHostRoot => AFWD_ERR_PUBLIC_HOST_ROOT,
            ConfigError::PublicHostProtected => AFWD_ERR_PUBLIC_HOST_PROTECTED,
            // #[non_exhaustive]: a variant added to the core after this ABI was written.
            _ => AFWD_ERR_CONFIG_INVALID,
        }
    }
}

impl From<QueryError> for afwd_result {
    fn from(e: QueryError) -> Self {
        use afwd_result::*;
        match e {
            QueryError::Malformed => AFWD_ERR_QUERY_MALFORMED,
            QueryError::NotAQuery => AFWD_ERR_QUERY_NOT_A_QUERY,
            QueryError::UnsupportedOpcode => AFWD_ERR_QUERY_UNSUPPORTED_OPCODE,
            QueryError::QuestionCount => AFWD_ERR_QUERY_QUESTION_COUNT,
            QueryError::NotClassified => AFWD_ERR_QUERY_NOT_CLASSIFIED,
            // #[non_exhaustive]: the query cannot be forwarded, like a malformed one.
            _ => AFWD_ERR_QUERY_MALFORMED,
        }
    }
}

impl From<ShareError> for afwd_result {
    fn from(e: ShareError) -> Self {
        use afwd_result::*;
        match e {
            ShareError::Query(q) => q.into(),
            ShareError::OtherQuestion => AFWD_ERR_QUERY_OTHER_QUESTION,
            // #[non_exhaustive]: nothing to share, like an exchange without an answer.
            _ => AFWD_ERR_EXCHANGE_NOT_ANSWERED,
        }
    }
}

impl From<ReplyError> for afwd_result {
    fn from(e: ReplyError) -> Self {
        use afwd_result::*;
        match e {
            ReplyError::Truncated => AFWD_TRUNCATED,
            ReplyError::Malformed => AFWD_ERR_REPLY_MALFORMED,
            ReplyError::NotAResponse => AFWD_ERR_REPLY_NOT_A_RESPONSE,
            ReplyError::IdMismatch => AFWD_ERR_REPLY_ID_MISMATCH,
            ReplyError::OpcodeMismatch => AFWD_ERR_REPLY_OPCODE_MISMATCH,
            ReplyError::QuestionMismatch => AFWD_ERR_REPLY_QUESTION_MISMATCH,
            ReplyError::ForeignRecord => AFWD_ERR_REPLY_FOREIGN_RECORD,
            ReplyError::UpstreamFailure => AFWD_ERR_REPLY_UPSTREAM_FAILURE,
            ReplyError::NotAuthoritative => AFWD_ERR_REPLY_NOT_AUTHORITATIVE,
            ReplyError::ExchangeDone => AFWD_ERR_EXCHANGE_DONE,
            ReplyError::Late => AFWD_ERR_REPLY_LATE,
            ReplyError::NxdomainWithData => AFWD_ERR_REPLY_NXDOMAIN_WITH_DATA,
            // #[non_exhaustive]: the reply is unusable, like a malformed one (next upstream).
            _ => AFWD_ERR_REPLY_MALFORMED,
        }
    }
}

impl From<FailReason> for afwd_result {
    fn from(r: FailReason) -> Self {
        use afwd_result::*;
        match r {
            FailReason::Reply(e) => e.into(),
            FailReason::NoReply => AFWD_ERR_NO_REPLY,
            FailReason::SendLimit => AFWD_ERR_SEND_LIMIT,
            FailReason::NoNameservers => AFWD_ERR_NO_NAMESERVERS,
            FailReason::HairpinTarget => AFWD_ERR_HAIRPIN_TARGET_FAILED,
            FailReason::TimeLimit => AFWD_ERR_TIME_LIMIT,
            // #[non_exhaustive]: a reason added to the core after this ABI was written.
            _ => AFWD_ERR_EXCHANGE_FAILED,
        }
    }
}

impl afwd_result {
    /// The English message for this code: the core error's own message where the code stands
    /// for a core error.
    pub fn message(self) -> &'static str {
        use afwd_result::*;
        match self {
            AFWD_OK => "ok",
            AFWD_TRUNCATED => ReplyError::Truncated.as_str(),
            AFWD_KEPT_INTERNAL => {
                "the internal view knows the nameserver host: it keeps its internal answer (name it with public_hosts to give it the public one)"
            }
            AFWD_ERR_NULL_ARGUMENT => "a required pointer argument is NULL",
            AFWD_ERR_BUFFER_TOO_SHORT => "output buffer too short (*out_n holds the needed length)",
            AFWD_ERR_PANIC => PANIC_MESSAGE,
            AFWD_ERR_INVALID_UTF8 => "argument is not valid UTF-8",
            AFWD_ERR_INDEX_OUT_OF_RANGE => "index out of range",
            AFWD_ERR_EXCHANGE_DONE => ReplyError::ExchangeDone.as_str(),
            AFWD_ERR_EXCHANGE_NOT_ANSWERED => ShareError::NotAnswered.as_str(),
            AFWD_ERR_NAME_EMPTY => ConfigError::NameEmpty.as_str(),
            AFWD_ERR_NAME_EMPTY_LABEL => ConfigError::NameEmptyLabel.as_str(),
            AFWD_ERR_NAME_LABEL_TOO_LONG => ConfigError::NameLabelTooLong.as_str(),
            AFWD_ERR_NAME_TOO_LONG => ConfigError::NameTooLong.as_str(),
            AFWD_ERR_NAME_BAD_ESCAPE => ConfigError::NameBadEscape.as_str(),
            AFWD_ERR_ADDRESS_INVALID => ConfigError::AddressInvalid.as_str(),
            AFWD_ERR_PORT_INVALID => ConfigError::PortInvalid.as_str(),
            AFWD_ERR_TIMEOUT_OUT_OF_RANGE => ConfigError::TimeoutOutOfRange.as_str(),
            AFWD_ERR_MAX_TTL_OUT_OF_RANGE => ConfigError::MaxTtlOutOfRange.as_str(),
            AFWD_ERR_NO_UPSTREAM => ConfigError::NoUpstream.as_str(),
            AFWD_ERR_MAX_LEARNED_OUT_OF_RANGE => ConfigError::MaxLearnedOutOfRange.as_str(),
            AFWD_ERR_UPSTREAM_MODE_INVALID => {
                "upstream mode must be AFWD_UPSTREAM_RECURSIVE or AFWD_UPSTREAM_AUTHORITATIVE"
            }
            AFWD_ERR_HAIRPIN_NAME_IS_ADDRESS => ConfigError::HairpinNameIsAddress.as_str(),
            AFWD_ERR_HAIRPIN_MISSING_TARGET => ConfigError::HairpinMissingTarget.as_str(),
            AFWD_ERR_HAIRPIN_BAD_WILDCARD => ConfigError::HairpinBadWildcard.as_str(),
            AFWD_ERR_HAIRPIN_TARGET_INVALID => ConfigError::HairpinTargetInvalid.as_str(),
            AFWD_ERR_HAIRPIN_DUPLICATE_NAME => ConfigError::HairpinDuplicateName.as_str(),
            AFWD_ERR_DELEGATED_ROOT => ConfigError::DelegatedRoot.as_str(),
            AFWD_ERR_PROTECTED_ROOT => ConfigError::ProtectedRoot.as_str(),
            AFWD_ERR_ZONE_PROTECTED => ConfigError::ZoneProtected.as_str(),
            AFWD_ERR_DELEGATED_PROTECTED => ConfigError::DelegatedProtected.as_str(),
            AFWD_ERR_NET_INVALID => ConfigError::NetInvalid.as_str(),
            AFWD_ERR_MAX_TIME_OUT_OF_RANGE => ConfigError::MaxTimeOutOfRange.as_str(),
            AFWD_ERR_MAX_CONCURRENT_OUT_OF_RANGE => ConfigError::MaxConcurrentOutOfRange.as_str(),
            AFWD_ERR_HAIRPIN_ROOT_NAME => ConfigError::HairpinRootName.as_str(),
            AFWD_ERR_LABEL_EMPTY => ConfigError::LabelEmpty.as_str(),
            AFWD_ERR_LABEL_NO_UNDERSCORE => ConfigError::LabelNoUnderscore.as_str(),
            AFWD_ERR_LABEL_TOO_LONG => ConfigError::LabelTooLong.as_str(),
            AFWD_ERR_LABEL_BAD_CHARACTER => ConfigError::LabelBadCharacter.as_str(),
            AFWD_ERR_LABEL_DUPLICATE => ConfigError::LabelDuplicate.as_str(),
            AFWD_ERR_TOO_MANY_LABELS => ConfigError::TooManyLabels.as_str(),
            AFWD_ERR_HAIRPIN_TARGET_NOT_HOST_NAME => ConfigError::HairpinTargetNotHostName.as_str(),
            AFWD_ERR_HAIRPIN_NAME_NOT_HOST_NAME => ConfigError::HairpinNameNotHostName.as_str(),
            AFWD_ERR_HAIRPIN_PROTECTED => ConfigError::HairpinProtected.as_str(),
            AFWD_ERR_PUBLIC_HOST_ROOT => ConfigError::PublicHostRoot.as_str(),
            AFWD_ERR_PUBLIC_HOST_PROTECTED => ConfigError::PublicHostProtected.as_str(),
            AFWD_ERR_CONFIG_INVALID => "invalid configuration",
            AFWD_ERR_QUERY_MALFORMED => QueryError::Malformed.as_str(),
            AFWD_ERR_QUERY_NOT_A_QUERY => QueryError::NotAQuery.as_str(),
            AFWD_ERR_QUERY_UNSUPPORTED_OPCODE => QueryError::UnsupportedOpcode.as_str(),
            AFWD_ERR_QUERY_QUESTION_COUNT => QueryError::QuestionCount.as_str(),
            AFWD_ERR_QUERY_OTHER_QUESTION => ShareError::OtherQuestion.as_str(),
            AFWD_ERR_QUERY_NOT_CLASSIFIED => QueryError::NotClassified.as_str(),
            AFWD_ERR_REPLY_MALFORMED => ReplyError::Malformed.as_str(),
            AFWD_ERR_REPLY_NOT_A_RESPONSE => ReplyError::NotAResponse.as_str(),
            AFWD_ERR_REPLY_ID_MISMATCH => ReplyError::IdMismatch.as_str(),
            AFWD_ERR_REPLY_OPCODE_MISMATCH => ReplyError::OpcodeMismatch.as_str(),
            AFWD_ERR_REPLY_QUESTION_MISMATCH => ReplyError::QuestionMismatch.as_str(),
            AFWD_ERR_REPLY_FOREIGN_RECORD => ReplyError::ForeignRecord.as_str(),
            AFWD_ERR_REPLY_UPSTREAM_FAILURE => ReplyError::UpstreamFailure.as_str(),
            AFWD_ERR_REPLY_NOT_AUTHORITATIVE => ReplyError::NotAuthoritative.as_str(),
            AFWD_ERR_REPLY_LATE => ReplyError::Late.as_str(),
            AFWD_ERR_REPLY_NXDOMAIN_WITH_DATA => ReplyError::NxdomainWithData.as_str(),
            AFWD_ERR_NO_REPLY => FailReason::NoReply.as_str(),
            AFWD_ERR_SEND_LIMIT => FailReason::SendLimit.as_str(),
            AFWD_ERR_NO_NAMESERVERS => FailReason::NoNameservers.as_str(),
            AFWD_ERR_HAIRPIN_TARGET_FAILED => FailReason::HairpinTarget.as_str(),
            AFWD_ERR_TIME_LIMIT => FailReason::TimeLimit.as_str(),
            AFWD_ERR_EXCHANGE_FAILED => "the exchange failed",
        }
    }
}

/// The verdict of `afwd_engine_classify`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum afwd_verdict {
    /// Not a question acmeforward handles: hand the query to the next plugin.
    AFWD_VERDICT_PASS = 0,
    /// A question to forward (a challenge lookup, a discovery or delegation question): start an
    /// `afwd_exchange`.
    AFWD_VERDICT_FORWARD = 1,
    /// A NULL argument, or a caught panic: treat like `AFWD_VERDICT_PASS` or answer SERVFAIL.
    AFWD_VERDICT_ERROR = 2,
    /// An A or AAAA question for a `hairpin` name that no forwarding rule takes (the HTTP-01
    /// hairpin): start an `afwd_exchange`, exactly as for `AFWD_VERDICT_FORWARD`; it answers
    /// with the target's addresses (after an `AFWD_ACTION_INTERNAL` lookup for a name target).
    AFWD_VERDICT_HAIRPIN = 3,
}

impl From<Verdict> for afwd_verdict {
    fn from(v: Verdict) -> Self {
        match v {
            Verdict::Pass => afwd_verdict::AFWD_VERDICT_PASS,
            Verdict::Forward => afwd_verdict::AFWD_VERDICT_FORWARD,
            Verdict::Hairpin => afwd_verdict::AFWD_VERDICT_HAIRPIN,
        }
    }
}

/// A result code as C passes it in. C may hold any value in an `afwd_result` variable; received
/// as a Rust enum, a value not listed would be undefined behaviour, so it is received as the
/// enum's underlying `unsigned int`. The header spells this type `afwd_result` (cbindgen.toml
/// renames it and does not emit it): same ABI, and the Go shim passes `C.afwd_result`.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ResultCode(pub c_uint);

impl From<afwd_result> for ResultCode {
    fn from(r: afwd_result) -> Self {
        ResultCode(r as c_uint)
    }
}

const PANIC_MESSAGE: &str = "internal error: a panic was caught at the C boundary";

impl PanicValue for afwd_result {
    fn panic_value() -> Self {
        afwd_result::AFWD_ERR_PANIC
    }
}

impl PanicValue for afwd_verdict {
    fn panic_value() -> Self {
        afwd_verdict::AFWD_VERDICT_ERROR
    }
}

/// `afwd_result_text` never returns NULL, not even after a panic.
impl PanicValue for *const c_char {
    fn panic_value() -> Self {
        PANIC_TEXT.as_ptr()
    }
}

/// `afwd_result_text`'s answer when it panics itself.
pub(crate) const PANIC_TEXT: &CStr = c"internal error: a panic was caught at the C boundary";

/// `afwd_result_text`'s answer for a value that is no `afwd_result`.
pub(crate) const UNKNOWN_TEXT: &CStr = c"unknown afwd_result code";

/// NUL-terminated copies of [`afwd_result::message`], index-aligned with [`ALL_RESULTS`]. Built
/// once, kept for the life of the process.
fn texts() -> &'static [CString] {
    static TEXTS: OnceLock<Box<[CString]>> = OnceLock::new();
    TEXTS.get_or_init(|| {
        ALL_RESULTS
            .iter()
            .map(|r| {
                // A message with a NUL in it would be a bug in the core; show what precedes it.
                let msg = r.message();
                let end = msg.find('\0').unwrap_or(msg.len());
                CString::new(&msg[..end]).unwrap_or_default()
            })
            .collect()
    })
}

/// A static, NUL-terminated English message for `result`.
///
/// Every `afwd_result` has a non-empty message; any other value gives
/// "unknown afwd_result code". Never returns NULL.
///
/// The string lives as long as the process: do not free or modify it. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn afwd_result_text(result: ResultCode) -> *const c_char {
    ffi_boundary!({
        match ALL_RESULTS.iter().position(|r| *r as c_uint == result.0) {
            Some(index) => texts()[index].as_ptr(),
            None => UNKNOWN_TEXT.as_ptr(),
        }
    })
}
