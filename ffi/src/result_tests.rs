//! Result codes: the contract values, their texts, and the core's errors mapped to them.

use std::ffi::c_uint;

use acmeforward::{ConfigError, FailReason, QueryError, ReplyError, ShareError};

use crate::result::{ALL_RESULTS, UNKNOWN_TEXT};
use crate::*;

use crate::testutil::*;
use afwd_action_kind::*;
use afwd_result::*;
use afwd_upstream_mode::*;
use afwd_verdict::*;

// ---- result codes and texts -----------------------------------------------------------------

#[test]
fn result_codes_are_the_contract_values() {
    let expected: [(afwd_result, c_uint); ALL_RESULTS.len()] = [
        (AFWD_OK, 0),
        (AFWD_TRUNCATED, 1),
        (AFWD_KEPT_INTERNAL, 2),
        (AFWD_ERR_NULL_ARGUMENT, 100),
        (AFWD_ERR_BUFFER_TOO_SHORT, 101),
        (AFWD_ERR_PANIC, 102),
        (AFWD_ERR_INVALID_UTF8, 103),
        (AFWD_ERR_INDEX_OUT_OF_RANGE, 104),
        (AFWD_ERR_EXCHANGE_DONE, 105),
        (AFWD_ERR_EXCHANGE_NOT_ANSWERED, 106),
        (AFWD_ERR_NAME_EMPTY, 200),
        (AFWD_ERR_NAME_EMPTY_LABEL, 201),
        (AFWD_ERR_NAME_LABEL_TOO_LONG, 202),
        (AFWD_ERR_NAME_TOO_LONG, 203),
        (AFWD_ERR_NAME_BAD_ESCAPE, 204),
        (AFWD_ERR_ADDRESS_INVALID, 205),
        (AFWD_ERR_PORT_INVALID, 206),
        (AFWD_ERR_TIMEOUT_OUT_OF_RANGE, 207),
        (AFWD_ERR_MAX_TTL_OUT_OF_RANGE, 208),
        (AFWD_ERR_NO_UPSTREAM, 209),
        (AFWD_ERR_MAX_LEARNED_OUT_OF_RANGE, 210),
        (AFWD_ERR_UPSTREAM_MODE_INVALID, 211),
        (AFWD_ERR_HAIRPIN_NAME_IS_ADDRESS, 212),
        (AFWD_ERR_HAIRPIN_MISSING_TARGET, 213),
        (AFWD_ERR_HAIRPIN_BAD_WILDCARD, 214),
        (AFWD_ERR_HAIRPIN_TARGET_INVALID, 215),
        (AFWD_ERR_HAIRPIN_DUPLICATE_NAME, 216),
        (AFWD_ERR_DELEGATED_ROOT, 217),
        (AFWD_ERR_PROTECTED_ROOT, 218),
        (AFWD_ERR_ZONE_PROTECTED, 219),
        (AFWD_ERR_DELEGATED_PROTECTED, 220),
        (AFWD_ERR_NET_INVALID, 221),
        (AFWD_ERR_MAX_TIME_OUT_OF_RANGE, 222),
        (AFWD_ERR_MAX_CONCURRENT_OUT_OF_RANGE, 223),
        (AFWD_ERR_HAIRPIN_ROOT_NAME, 224),
        (AFWD_ERR_LABEL_EMPTY, 225),
        (AFWD_ERR_LABEL_NO_UNDERSCORE, 226),
        (AFWD_ERR_LABEL_TOO_LONG, 227),
        (AFWD_ERR_LABEL_BAD_CHARACTER, 228),
        (AFWD_ERR_LABEL_DUPLICATE, 229),
        (AFWD_ERR_TOO_MANY_LABELS, 230),
        (AFWD_ERR_HAIRPIN_TARGET_NOT_HOST_NAME, 231),
        (AFWD_ERR_HAIRPIN_NAME_NOT_HOST_NAME, 232),
        (AFWD_ERR_HAIRPIN_PROTECTED, 233),
        (AFWD_ERR_PUBLIC_HOST_ROOT, 240),
        (AFWD_ERR_PUBLIC_HOST_PROTECTED, 241),
        (AFWD_ERR_CONFIG_INVALID, 299),
        (AFWD_ERR_QUERY_MALFORMED, 300),
        (AFWD_ERR_QUERY_NOT_A_QUERY, 301),
        (AFWD_ERR_QUERY_UNSUPPORTED_OPCODE, 302),
        (AFWD_ERR_QUERY_QUESTION_COUNT, 303),
        (AFWD_ERR_QUERY_OTHER_QUESTION, 304),
        (AFWD_ERR_QUERY_NOT_CLASSIFIED, 305),
        (AFWD_ERR_REPLY_MALFORMED, 400),
        (AFWD_ERR_REPLY_NOT_A_RESPONSE, 401),
        (AFWD_ERR_REPLY_ID_MISMATCH, 402),
        (AFWD_ERR_REPLY_OPCODE_MISMATCH, 403),
        (AFWD_ERR_REPLY_QUESTION_MISMATCH, 404),
        (AFWD_ERR_REPLY_FOREIGN_RECORD, 405),
        (AFWD_ERR_REPLY_UPSTREAM_FAILURE, 406),
        (AFWD_ERR_REPLY_NOT_AUTHORITATIVE, 407),
        (AFWD_ERR_REPLY_LATE, 408),
        (AFWD_ERR_REPLY_NXDOMAIN_WITH_DATA, 409),
        (AFWD_ERR_NO_REPLY, 500),
        (AFWD_ERR_SEND_LIMIT, 501),
        (AFWD_ERR_NO_NAMESERVERS, 502),
        (AFWD_ERR_HAIRPIN_TARGET_FAILED, 503),
        (AFWD_ERR_TIME_LIMIT, 504),
        (AFWD_ERR_EXCHANGE_FAILED, 599),
    ];
    for ((code, value), listed) in expected.iter().zip(ALL_RESULTS) {
        assert_eq!(*code as c_uint, *value);
        assert_eq!(*code, listed, "ALL_RESULTS out of order");
    }
    assert_eq!(AFWD_VERDICT_PASS as c_uint, 0);
    assert_eq!(AFWD_VERDICT_FORWARD as c_uint, 1);
    assert_eq!(AFWD_VERDICT_ERROR as c_uint, 2);
    assert_eq!(AFWD_VERDICT_HAIRPIN as c_uint, 3);
    assert_eq!(AFWD_ACTION_SEND as c_uint, 1);
    assert_eq!(AFWD_ACTION_ANSWER as c_uint, 2);
    assert_eq!(AFWD_ACTION_FAIL as c_uint, 3);
    assert_eq!(AFWD_ACTION_INTERNAL as c_uint, 4);
    assert_eq!(AFWD_UPSTREAM_RECURSIVE as c_uint, 0);
    assert_eq!(AFWD_UPSTREAM_AUTHORITATIVE as c_uint, 1);
    assert_eq!(size_of::<afwd_result>(), size_of::<c_uint>());
    assert_eq!(size_of::<ResultCode>(), size_of::<c_uint>());
    assert_eq!(size_of::<afwd_upstream_mode>(), size_of::<c_uint>());
    assert_eq!(size_of::<UpstreamModeCode>(), size_of::<c_uint>());
}

#[test]
fn every_code_has_a_distinct_nonempty_text() {
    let mut seen = std::collections::HashSet::new();
    for code in ALL_RESULTS {
        let t = text(code.into());
        assert!(!t.is_empty(), "{code:?}");
        assert_eq!(t, code.message());
        assert!(seen.insert(t), "{code:?} shares its text {t:?}");
        // Static: the same pointer every time.
        assert_eq!(afwd_result_text(code.into()), afwd_result_text(code.into()));
    }
    for unknown in [3, 99, 107, 234, 298, 306, 410, 505, 598, 600, c_uint::MAX] {
        assert_eq!(afwd_result_text(ResultCode(unknown)), UNKNOWN_TEXT.as_ptr());
    }
}

#[test]
fn core_errors_map_to_their_own_codes_and_messages() {
    let config = [
        (ConfigError::NameEmpty, AFWD_ERR_NAME_EMPTY),
        (ConfigError::NameEmptyLabel, AFWD_ERR_NAME_EMPTY_LABEL),
        (ConfigError::NameLabelTooLong, AFWD_ERR_NAME_LABEL_TOO_LONG),
        (ConfigError::NameTooLong, AFWD_ERR_NAME_TOO_LONG),
        (ConfigError::NameBadEscape, AFWD_ERR_NAME_BAD_ESCAPE),
        (ConfigError::AddressInvalid, AFWD_ERR_ADDRESS_INVALID),
        (ConfigError::PortInvalid, AFWD_ERR_PORT_INVALID),
        (
            ConfigError::TimeoutOutOfRange,
            AFWD_ERR_TIMEOUT_OUT_OF_RANGE,
        ),
        (ConfigError::MaxTtlOutOfRange, AFWD_ERR_MAX_TTL_OUT_OF_RANGE),
        (ConfigError::NoUpstream, AFWD_ERR_NO_UPSTREAM),
        (
            ConfigError::MaxLearnedOutOfRange,
            AFWD_ERR_MAX_LEARNED_OUT_OF_RANGE,
        ),
        (
            ConfigError::HairpinNameIsAddress,
            AFWD_ERR_HAIRPIN_NAME_IS_ADDRESS,
        ),
        (
            ConfigError::HairpinMissingTarget,
            AFWD_ERR_HAIRPIN_MISSING_TARGET,
        ),
        (
            ConfigError::HairpinBadWildcard,
            AFWD_ERR_HAIRPIN_BAD_WILDCARD,
        ),
        (
            ConfigError::HairpinTargetInvalid,
            AFWD_ERR_HAIRPIN_TARGET_INVALID,
        ),
        (
            ConfigError::HairpinDuplicateName,
            AFWD_ERR_HAIRPIN_DUPLICATE_NAME,
        ),
        (ConfigError::DelegatedRoot, AFWD_ERR_DELEGATED_ROOT),
        (ConfigError::ProtectedRoot, AFWD_ERR_PROTECTED_ROOT),
        (ConfigError::ZoneProtected, AFWD_ERR_ZONE_PROTECTED),
        (
            ConfigError::DelegatedProtected,
            AFWD_ERR_DELEGATED_PROTECTED,
        ),
        (ConfigError::NetInvalid, AFWD_ERR_NET_INVALID),
        (
            ConfigError::MaxTimeOutOfRange,
            AFWD_ERR_MAX_TIME_OUT_OF_RANGE,
        ),
        (
            ConfigError::MaxConcurrentOutOfRange,
            AFWD_ERR_MAX_CONCURRENT_OUT_OF_RANGE,
        ),
        (ConfigError::HairpinRootName, AFWD_ERR_HAIRPIN_ROOT_NAME),
        (ConfigError::LabelEmpty, AFWD_ERR_LABEL_EMPTY),
        (ConfigError::LabelNoUnderscore, AFWD_ERR_LABEL_NO_UNDERSCORE),
        (ConfigError::LabelTooLong, AFWD_ERR_LABEL_TOO_LONG),
        (ConfigError::LabelBadCharacter, AFWD_ERR_LABEL_BAD_CHARACTER),
        (ConfigError::LabelDuplicate, AFWD_ERR_LABEL_DUPLICATE),
        (ConfigError::TooManyLabels, AFWD_ERR_TOO_MANY_LABELS),
        (
            ConfigError::HairpinTargetNotHostName,
            AFWD_ERR_HAIRPIN_TARGET_NOT_HOST_NAME,
        ),
        (
            ConfigError::HairpinNameNotHostName,
            AFWD_ERR_HAIRPIN_NAME_NOT_HOST_NAME,
        ),
        (ConfigError::HairpinProtected, AFWD_ERR_HAIRPIN_PROTECTED),
        (ConfigError::PublicHostRoot, AFWD_ERR_PUBLIC_HOST_ROOT),
        (
            ConfigError::PublicHostProtected,
            AFWD_ERR_PUBLIC_HOST_PROTECTED,
        ),
    ];
    for (e, code) in config {
        assert_eq!(afwd_result::from(e), code);
        assert_eq!(text(code.into()), e.as_str());
    }
    let query = [
        (QueryError::Malformed, AFWD_ERR_QUERY_MALFORMED),
        (QueryError::NotAQuery, AFWD_ERR_QUERY_NOT_A_QUERY),
        (
            QueryError::UnsupportedOpcode,
            AFWD_ERR_QUERY_UNSUPPORTED_OPCODE,
        ),
        (QueryError::QuestionCount, AFWD_ERR_QUERY_QUESTION_COUNT),
    ];
    for (e, code) in query {
        assert_eq!(afwd_result::from(e), code);
        assert_eq!(text(code.into()), e.as_str());
    }
    let share = [
        (ShareError::OtherQuestion, AFWD_ERR_QUERY_OTHER_QUESTION),
        (ShareError::NotAnswered, AFWD_ERR_EXCHANGE_NOT_ANSWERED),
    ];
    for (e, code) in share {
        assert_eq!(afwd_result::from(e), code);
        assert_eq!(text(code.into()), e.as_str());
    }
    assert_eq!(
        afwd_result::from(ShareError::Query(QueryError::NotAQuery)),
        AFWD_ERR_QUERY_NOT_A_QUERY
    );
    let reply = [
        (ReplyError::Truncated, AFWD_TRUNCATED),
        (ReplyError::Malformed, AFWD_ERR_REPLY_MALFORMED),
        (ReplyError::NotAResponse, AFWD_ERR_REPLY_NOT_A_RESPONSE),
        (ReplyError::IdMismatch, AFWD_ERR_REPLY_ID_MISMATCH),
        (ReplyError::OpcodeMismatch, AFWD_ERR_REPLY_OPCODE_MISMATCH),
        (
            ReplyError::QuestionMismatch,
            AFWD_ERR_REPLY_QUESTION_MISMATCH,
        ),
        (ReplyError::ForeignRecord, AFWD_ERR_REPLY_FOREIGN_RECORD),
        (ReplyError::UpstreamFailure, AFWD_ERR_REPLY_UPSTREAM_FAILURE),
        (
            ReplyError::NotAuthoritative,
            AFWD_ERR_REPLY_NOT_AUTHORITATIVE,
        ),
        (ReplyError::ExchangeDone, AFWD_ERR_EXCHANGE_DONE),
        (
            ReplyError::NxdomainWithData,
            AFWD_ERR_REPLY_NXDOMAIN_WITH_DATA,
        ),
    ];
    for (e, code) in reply {
        assert_eq!(afwd_result::from(e), code);
        assert_eq!(text(code.into()), e.as_str());
        // A failure blamed on a reply carries the reply's code.
        assert_eq!(afwd_result::from(FailReason::Reply(e)), code);
    }
    let fail = [
        (FailReason::NoReply, AFWD_ERR_NO_REPLY),
        (FailReason::SendLimit, AFWD_ERR_SEND_LIMIT),
        (FailReason::NoNameservers, AFWD_ERR_NO_NAMESERVERS),
        (FailReason::HairpinTarget, AFWD_ERR_HAIRPIN_TARGET_FAILED),
    ];
    for (r, code) in fail {
        assert_eq!(afwd_result::from(r), code);
        assert_eq!(text(code.into()), r.as_str());
    }
}
