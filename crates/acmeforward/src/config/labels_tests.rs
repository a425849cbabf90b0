//! The challenge labels: the defaults, the dns-account-01 shape, a replaced set, refused labels.

use super::*;

fn wire(labels: &[&str]) -> Vec<u8> {
    let mut w = Vec::new();
    for l in labels {
        w.push(l.len() as u8);
        w.extend_from_slice(l.as_bytes());
    }
    w.push(0);
    w
}

#[test]
fn defaults() {
    let set = ChallengeLabels::default();
    let labels: Vec<&[u8]> = set.iter().collect();
    assert_eq!(labels, DEFAULT_CHALLENGE_LABELS.map(str::as_bytes).to_vec());
    assert!(set.matches(&wire(&["_acme-challenge", "x"])));
    assert!(set.matches(&wire(&["_validation-persist", "x"])));
    assert!(set.matches(&wire(&["_abcdefghijklmnop", "_acme-challenge", "x"])));
    assert!(set.matches(&wire(&["_qrstuvwxyz234567", "_acme-challenge"])));
    assert!(!set.matches(&wire(&["_acme-challenge-", "x"])));
    assert!(!set.matches(&wire(&["x", "_acme-challenge"])));
    assert!(!set.matches(&[0]));
    assert!(!set.matches(&[]));
}

#[test]
fn account_shape_is_exact() {
    let set = ChallengeLabels::default();
    for bad in [
        // Not base32: 0, 1, 8, 9 and other characters.
        &["_abcdefghijklmno1", "_acme-challenge", "x"][..],
        &["_abcdefghijklmno8", "_acme-challenge", "x"],
        &["_abcdefghijklmn-p", "_acme-challenge", "x"],
        &["_abcdefghijklmn_p", "_acme-challenge", "x"],
        // 15 and 17 characters after the underscore.
        &["_abcdefghijklmno", "_acme-challenge", "x"],
        &["_abcdefghijklmnopq", "_acme-challenge", "x"],
        // No underscore, another second label, no second label.
        &["aabcdefghijklmnop", "_acme-challenge", "x"],
        &["_abcdefghijklmnop", "_acme-challengex", "x"],
        &["_abcdefghijklmnop", "_validation-persist", "x"],
        &["_abcdefghijklmnop"],
        &["foo", "_acme-challenge", "x"],
    ] {
        assert!(!set.matches(&wire(bad)), "{bad:?}");
    }
    // A malformed length octet after the account label.
    let mut w = wire(&["_abcdefghijklmnop"]);
    w.pop();
    w.push(15);
    w.extend_from_slice(b"_acme-chall");
    assert!(!set.matches(&w));
}

#[test]
fn replaced_set() {
    let Ok(mut set) = ChallengeLabels::only("_Custom") else {
        panic!("_Custom");
    };
    assert_eq!(set.add("_other-one_2"), Ok(()));
    assert!(set.matches(&wire(&["_custom", "x"])));
    assert!(set.matches(&wire(&["_other-one_2", "x"])));
    assert!(!set.matches(&wire(&["_acme-challenge", "x"])));
    assert!(!set.matches(&wire(&["_validation-persist", "x"])));
    // dns-account-01 follows `_acme-challenge`.
    assert!(!set.matches(&wire(&["_abcdefghijklmnop", "_acme-challenge", "x"])));
    assert!(set.may_match(b"_custom"));
    assert!(!set.may_match(b"_cust"));
    assert!(!set.may_match(b"x_custom"));
    assert_eq!(set.add("_acme-challenge"), Ok(()));
    assert!(set.matches(&wire(&["_abcdefghijklmnop", "_acme-challenge", "x"])));
}

#[test]
fn labels_of_one_length() {
    let Ok(mut set) = ChallengeLabels::only("_aa") else {
        panic!("_aa");
    };
    for l in ["_ab", "_ac", "_ad"] {
        assert_eq!(set.add(l), Ok(()), "{l}");
    }
    for l in ["_aa", "_ab", "_ac", "_ad"] {
        assert!(set.matches(&wire(&[l, "x"])), "{l}");
    }
    assert!(!set.matches(&wire(&["_ae", "x"])));
}

#[test]
fn refused_labels() {
    let long = format!("_{}", "a".repeat(63));
    for (label, err) in [
        ("", ConfigError::LabelEmpty),
        ("acme-challenge", ConfigError::LabelNoUnderscore),
        (".x", ConfigError::LabelNoUnderscore),
        (long.as_str(), ConfigError::LabelTooLong),
        ("_a.b", ConfigError::LabelBadCharacter),
        ("_a b", ConfigError::LabelBadCharacter),
        (r"_a\046b", ConfigError::LabelBadCharacter),
        ("_é", ConfigError::LabelBadCharacter),
        ("_a*", ConfigError::LabelBadCharacter),
    ] {
        assert_eq!(ChallengeLabels::only(label), Err(err), "{label:?}");
    }
    assert!(ChallengeLabels::only(&long[..63]).is_ok());
    assert!(ChallengeLabels::only("_").is_ok());
}

#[test]
fn duplicates_and_bound() {
    let Ok(mut set) = ChallengeLabels::only("_x") else {
        panic!("_x");
    };
    let before = set.clone();
    assert_eq!(set.add("_X"), Err(ConfigError::LabelDuplicate));
    assert_eq!(set, before, "unchanged on an error");
    for i in 1..MAX_CHALLENGE_LABELS {
        assert_eq!(set.add(&format!("_x{i}")), Ok(()));
    }
    assert_eq!(set.add("_y"), Err(ConfigError::TooManyLabels));
    assert_eq!(set.iter().count(), MAX_CHALLENGE_LABELS);
    for i in 1..MAX_CHALLENGE_LABELS {
        assert!(set.matches(&wire(&[&format!("_x{i}"), "x"])));
    }
}
