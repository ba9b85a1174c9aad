//! Email addresses: normalisation and validation.

use std::fmt;

/// Why an email address, or its registration, was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EmailError {
    /// The text is not of the form `local@domain.tld`.
    Invalid(String),
    /// The address already belongs to another member.
    Taken {
        /// The address, normalised.
        email: String,
        /// Its owner.
        owner: crate::MemberId,
    },
    /// The shared backend could not answer; nothing was changed.
    Unavailable(crate::Outage),
    /// The member already has the most addresses allowed
    /// ([`crate::MemberLimits::max_emails`]); nothing was changed.
    TooManyEmails {
        /// The member.
        member: crate::MemberId,
        /// The cap.
        max: u32,
    },
    /// A contact import holds more distinct entries than allowed
    /// ([`crate::MemberLimits::max_contacts`]); the previous list is kept.
    TooManyContacts {
        /// The cap.
        max: u32,
    },
    /// The address is not registered to this member; nothing was changed.
    NotRegistered {
        /// The address, normalised.
        email: String,
        /// The member it was to be removed from.
        member: crate::MemberId,
    },
}

impl fmt::Display for EmailError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EmailError::Invalid(text) => write!(
                f,
                "{text:?} is not a valid email address (expected local@domain.tld); correct or remove it"
            ),
            EmailError::Taken { email, owner } => write!(
                f,
                "{email} is already registered to {owner}; an address belongs to one member only"
            ),
            EmailError::Unavailable(cause) => {
                write!(f, "the email was not stored: {cause}; {}", cause.remedy())
            }
            EmailError::TooManyEmails { member, max } => write!(
                f,
                "{member} already has {max} registered emails, the most allowed; unregister one first"
            ),
            EmailError::TooManyContacts { max } => write!(
                f,
                "the import holds more than {max} distinct contacts, the most allowed; import a shorter list"
            ),
            EmailError::NotRegistered { email, member } => write!(
                f,
                "{email} is not registered to {member}; nothing to unregister"
            ),
        }
    }
}

impl std::error::Error for EmailError {}

/// The longest address accepted, in bytes once normalised: RFC 5321's limit on a
/// path (256) less its angle brackets. Addresses are stored, journaled and
/// snapshotted, so without a bound one import could hold gigabytes.
pub(crate) const MAX_EMAIL_BYTES: usize = 254;

/// Trims and lower-cases `text`, and checks it is `local@domain.tld` of at most
/// [`MAX_EMAIL_BYTES`].
pub(crate) fn normalize(text: &str) -> Result<String, EmailError> {
    let trimmed = text.trim();
    if trimmed.len() > MAX_EMAIL_BYTES {
        // Named by its start: the error need not copy what was refused.
        let end = (0..=64.min(text.len()))
            .rev()
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(0);
        return Err(EmailError::Invalid(format!("{}…", &text[..end])));
    }
    let invalid = || EmailError::Invalid(text.to_owned());
    let (local, domain) = trimmed.split_once('@').ok_or_else(invalid)?;
    let labels_ok = domain
        .split('.')
        .all(|l| !l.is_empty() && l.chars().all(|c| c.is_alphanumeric() || c == '-'));
    let (_, tld) = domain.rsplit_once('.').ok_or_else(invalid)?;
    let local_ok = !local.is_empty()
        && local
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && c != '@');
    if !local_ok || !labels_ok || tld.chars().count() < 2 {
        return Err(invalid());
    }
    let email = trimmed.to_lowercase();
    // Lower-casing may lengthen a few characters.
    if email.len() > MAX_EMAIL_BYTES {
        return Err(invalid());
    }
    Ok(email)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_folded() {
        assert_eq!(
            normalize("  Ada@Example.COM \n").unwrap(),
            "ada@example.com"
        );
        assert_eq!(
            normalize("a.b+c@mail.example.org").unwrap(),
            "a.b+c@mail.example.org"
        );
    }

    #[test]
    fn addresses_longer_than_a_mail_path_allows_are_refused() {
        let at_most = format!("{}@example.com", "a".repeat(MAX_EMAIL_BYTES - 12));
        assert_eq!(at_most.len(), MAX_EMAIL_BYTES);
        assert_eq!(normalize(&format!("  {at_most}\n")), Ok(at_most.clone()));
        let over = format!("b{at_most}");
        assert!(matches!(normalize(&over), Err(EmailError::Invalid(_))));
        // Valid but for its length, 50 MB is refused, and the error holds its start.
        let huge = format!("{}@example.com", "\u{e9}".repeat(25 << 20));
        let Err(EmailError::Invalid(named)) = normalize(&huge) else {
            panic!("refused");
        };
        assert!(named.len() < 100 && named.starts_with('\u{e9}'), "{named}");
        // 122 'İ' (two bytes each) lower-case to three bytes each: too long then.
        let grows = format!("{}@b.co", "\u{130}".repeat(122));
        assert!(grows.len() <= MAX_EMAIL_BYTES);
        assert!(matches!(normalize(&grows), Err(EmailError::Invalid(_))));
    }

    #[test]
    fn malformed_emails_are_refused_naming_the_text() {
        for bad in [
            "",
            "plain",
            "@example.com",
            "a@",
            "a@b",
            "a@b.",
            "a@.com",
            "a b@c.com",
            "a@b@c.com",
            "a@exa mple.com",
            "a@b.c",
        ] {
            let err = normalize(bad).unwrap_err();
            assert_eq!(err, EmailError::Invalid(bad.to_owned()), "{bad:?}");
            assert!(err.to_string().contains("not a valid email"));
        }
    }
}
