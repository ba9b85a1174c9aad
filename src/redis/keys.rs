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
pub(crate) fn email_owner(prefix: &str, email: &str) -> String {
    format!("{{{prefix}:@{email}}}")
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
}
