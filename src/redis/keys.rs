//! Key names. Every key of one member carries the member's hash tag, so a cluster
//! keeps them on one slot and one script may touch them all.

/// The key names of one member.
#[derive(Debug, Clone)]
pub(crate) struct MemberKeys {
    tag: String,
}

impl MemberKeys {
    pub(crate) fn new(prefix: &str, member: u64) -> Self {
        MemberKeys {
            tag: format!("{{{prefix}:{member}}}"),
        }
    }

    /// The key `name` of this member, e.g. `{il:42}:h`.
    pub(crate) fn key(&self, name: &str) -> String {
        format!("{}:{name}", self.tag)
    }

    /// The keys the engine script takes, in its order.
    pub(crate) fn script_keys(&self) -> [String; 14] {
        [
            "h", "s", "n", "p", "i", "q", "k", "kz", "c", "a", "g", "t", "fb", "sk",
        ]
        .map(|n| self.key(n))
    }
}

/// The key that names the owner of a registered email.
///
/// The whole name is the hash tag, which ends at the first `}`, so a `}` in the
/// email (legal in its local part) would cut the tag short and let chosen
/// addresses pile onto one slot. Each `}` is written as `@` instead: a valid email
/// has exactly one `@`, after every `}`, so the mapping stays one-to-one, and keys
/// of emails without `}` are named as they always were.
pub(crate) fn email_owner(prefix: &str, email: &str) -> String {
    format!("{{{prefix}:@{}}}", email.replace('}', "@"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_share_the_member_tag() {
        let k = MemberKeys::new("il", 42);
        assert_eq!(k.key("h"), "{il:42}:h");
        assert!(k
            .script_keys()
            .iter()
            .all(|key| key.starts_with("{il:42}:")));
        assert_eq!(email_owner("il", "a@b.co"), "{il:@a@b.co}");
    }

    /// The slot's hash tag of a key: between the first `{` and the next `}`.
    fn tag(key: &str) -> &str {
        let open = key.find('{').expect("tagged");
        let close = key[open..].find('}').expect("closed") + open;
        &key[open + 1..close]
    }

    #[test]
    fn a_brace_in_an_email_keeps_the_whole_name_as_the_tag() {
        let key = email_owner("il", "{il:@a}x@b.co");
        assert_eq!(key, "{il:@{il:@a@x@b.co}");
        assert_eq!(tag(&key), "il:@{il:@a@x@b.co");
        assert_ne!(tag(&key), tag(&email_owner("il", "a@b.co")));
        // One-to-one on valid emails: the last `@` is the email's own.
        assert_ne!(
            email_owner("il", "a}}b@c.co"),
            email_owner("il", "a}b@c.co")
        );
        assert_eq!(email_owner("il", "a}b@c.co"), "{il:@a@b@c.co}");
    }
}
