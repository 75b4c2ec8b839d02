//! The platform's Redis keys of a course, organization or user, as the
//! operator names them (`DRAFTD_CLEANUP_REDIS_PATTERNS`): Redis globs with the
//! placeholders `{courseId}`, `{orgId}` and `{userId}`; every other character,
//! braces included, is literal (`*`, `?`, `[…]` and `\` keep their glob
//! meaning). One SCAN finds the keys of a whole batch of erased courses: the
//! placeholders scan as `*`, and each key found names its ids, which are then
//! looked up in the batch.

use std::collections::HashMap;

use uuid::Uuid;

/// Whose keys a pattern names, by its placeholders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatternScope {
    /// Has `{courseId}`: erased with each course.
    Course,
    /// Has `{orgId}` (and not `{courseId}`): erased with the organization.
    Organization,
    /// Has only `{userId}`: erased with the user.
    User,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Placeholder {
    Course,
    Organization,
    User,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(char),
    /// `*`: any run of characters.
    Any,
    /// `?`: one character.
    One,
    /// `[…]`: one character of the set (`^` negates), kept as written.
    Class {
        negated: bool,
        items: Vec<char>,
    },
    Id(Placeholder),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPattern {
    text: String,
    tokens: Vec<Token>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the Redis key pattern {0:?} has no {{courseId}}, {{orgId}} or {{userId}}: it would match every course's keys")]
pub struct NoPlaceholder(pub String);

/// The ids a key was found to carry.
pub type Ids = HashMap<Placeholder, Uuid>;

const PLACEHOLDERS: [(&str, Placeholder); 3] = [
    ("{courseId}", Placeholder::Course),
    ("{orgId}", Placeholder::Organization),
    ("{userId}", Placeholder::User),
];

impl KeyPattern {
    pub fn parse(text: &str) -> Result<Self, NoPlaceholder> {
        let mut tokens = Vec::new();
        let mut rest = text;
        'outer: while let Some(c) = rest.chars().next() {
            for (name, placeholder) in PLACEHOLDERS {
                if let Some(after) = rest.strip_prefix(name) {
                    tokens.push(Token::Id(placeholder));
                    rest = after;
                    continue 'outer;
                }
            }
            rest = &rest[c.len_utf8()..];
            tokens.push(match c {
                '*' => Token::Any,
                '?' => Token::One,
                '\\' => match rest.chars().next() {
                    Some(escaped) => {
                        rest = &rest[escaped.len_utf8()..];
                        Token::Literal(escaped)
                    }
                    None => Token::Literal('\\'),
                },
                '[' => match rest.find(']') {
                    Some(end) if end > 0 => {
                        let body = &rest[..end];
                        rest = &rest[end + 1..];
                        let (negated, body) = match body.strip_prefix('^') {
                            Some(body) => (true, body),
                            None => (false, body),
                        };
                        Token::Class {
                            negated,
                            items: body.chars().collect(),
                        }
                    }
                    _ => Token::Literal('['),
                },
                c => Token::Literal(c),
            });
        }
        if !tokens.iter().any(|t| matches!(t, Token::Id(_))) {
            return Err(NoPlaceholder(text.to_owned()));
        }
        Ok(Self {
            text: text.to_owned(),
            tokens,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn scope(&self) -> PatternScope {
        let has = |p| self.tokens.contains(&Token::Id(p));
        if has(Placeholder::Course) {
            PatternScope::Course
        } else if has(Placeholder::Organization) {
            PatternScope::Organization
        } else {
            PatternScope::User
        }
    }

    /// The glob to SCAN with: every placeholder as `*`, every literal
    /// character escaped where Redis would read it as a glob.
    pub fn scan_glob(&self) -> String {
        let mut glob = String::with_capacity(self.text.len());
        for token in &self.tokens {
            match token {
                Token::Literal(c) => {
                    if matches!(c, '*' | '?' | '[' | ']' | '\\') {
                        glob.push('\\');
                    }
                    glob.push(*c);
                }
                Token::Any | Token::Id(_) => glob.push('*'),
                Token::One => glob.push('?'),
                Token::Class { negated, items } => {
                    glob.push('[');
                    if *negated {
                        glob.push('^');
                    }
                    glob.extend(items);
                    glob.push(']');
                }
            }
        }
        glob
    }

    /// The ids `key` carries where the pattern has placeholders, if the key
    /// matches the pattern with ids in their places.
    pub fn ids_in(&self, key: &str) -> Option<Ids> {
        let key: Vec<char> = key.chars().collect();
        let mut ids = Ids::new();
        matches(&self.tokens, &key, &mut ids).then_some(ids)
    }
}

/// A UUID's text is 36 characters.
const ID_LEN: usize = 36;

fn matches(tokens: &[Token], key: &[char], ids: &mut Ids) -> bool {
    let Some((token, rest)) = tokens.split_first() else {
        return key.is_empty();
    };
    match token {
        Token::Literal(c) => key.first() == Some(c) && matches(rest, &key[1..], ids),
        Token::One => !key.is_empty() && matches(rest, &key[1..], ids),
        Token::Class { negated, items } => key
            .first()
            .is_some_and(|c| in_class(items, *c) != *negated && matches(rest, &key[1..], ids)),
        Token::Any => (0..=key.len()).any(|skip| matches(rest, &key[skip..], ids)),
        Token::Id(placeholder) => {
            let Some(text) = key.get(..ID_LEN) else {
                return false;
            };
            let Ok(id) = text.iter().collect::<String>().parse::<Uuid>() else {
                return false;
            };
            // The same placeholder twice must carry the same id.
            if ids.get(placeholder).is_some_and(|seen| *seen != id) {
                return false;
            }
            let fresh = ids.insert(*placeholder, id).is_none();
            if matches(rest, &key[ID_LEN..], ids) {
                return true;
            }
            if fresh {
                ids.remove(placeholder);
            }
            false
        }
    }
}

fn in_class(items: &[char], c: char) -> bool {
    let mut i = 0;
    while i < items.len() {
        if i + 2 < items.len() && items[i + 1] == '-' {
            if (items[i]..=items[i + 2]).contains(&c) {
                return true;
            }
            i += 3;
        } else {
            if items[i] == c {
                return true;
            }
            i += 1;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_capture_ids_and_braces_stay_literal() {
        let course = Uuid::new_v4();
        let pattern = KeyPattern::parse("bull:{course-generation}:{courseId}:*").unwrap();
        assert_eq!(pattern.scope(), PatternScope::Course);
        assert_eq!(pattern.scan_glob(), "bull:{course-generation}:*:*");
        let ids = pattern
            .ids_in(&format!("bull:{{course-generation}}:{course}:7"))
            .unwrap();
        assert_eq!(ids.get(&Placeholder::Course), Some(&course));
        assert_eq!(
            pattern.ids_in(&format!("bull:course-generation:{course}:7")),
            None
        );
        assert_eq!(pattern.ids_in("bull:{course-generation}:not-an-id:7"), None);
    }

    #[test]
    fn a_pattern_without_a_placeholder_is_refused_and_scopes_follow_placeholders() {
        assert!(KeyPattern::parse("idempotency:*").is_err());
        assert!(KeyPattern::parse("{course}:*").is_err());
        let org = KeyPattern::parse("rag:{orgId}:{userId}:*").unwrap();
        assert_eq!(org.scope(), PatternScope::Organization);
        assert_eq!(
            KeyPattern::parse("u:{userId}").unwrap().scope(),
            PatternScope::User
        );
        let literal = KeyPattern::parse(r"a\*[0-9]?{courseId}").unwrap();
        let id = Uuid::new_v4();
        assert!(literal.ids_in(&format!("a*5x{id}")).is_some());
        assert!(literal.ids_in(&format!("ab5x{id}")).is_none());
        assert_eq!(literal.scan_glob(), r"a\*[0-9]?*");
    }
}
