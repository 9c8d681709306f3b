//! Header cards: the keyword/value/comment records of one HDU, in file order, with typed look-ups.
//! Knows nothing of byte layout (that is `read` and `write`); must not reorder or silently drop
//! cards.

use std::fmt;

/// The value of a header card (FITS standard §4.2): character string, integer, real or logical.
///
/// Complex values are rare and not needed here; the reader keeps their text as a `Str`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Value {
    /// A character string, without its quotes, `''` unescaped and trailing blanks removed.
    Str(String),
    /// An integer.
    Int(i64),
    /// A real number. Must be finite to be written (FITS has no NaN/Inf header values).
    Float(f64),
    /// A logical, `T` or `F`.
    Bool(bool),
}

impl Value {
    /// The string, if this is a `Str`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The number, if this is a `Float` or an `Int`.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Float(x) => Some(*x),
            Value::Int(i) => Some(*i as f64),
            _ => None,
        }
    }

    /// The integer, if this is an `Int` (or a `Float` holding an exact integer, as some writers
    /// store integers as `1.0`).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Float(x) if x.fract() == 0.0 && x.abs() < 9.0e15 => Some(*x as i64),
            _ => None,
        }
    }

    /// The logical, if this is a `Bool`.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Str(s) => write!(f, "'{}'", s.replace('\'', "''")),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x:?}"),
            Value::Bool(b) => write!(f, "{}", if *b { "T" } else { "F" }),
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_string())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}
impl From<i32> for Value {
    fn from(i: i32) -> Self {
        Value::Int(i64::from(i))
    }
}
impl From<usize> for Value {
    fn from(i: usize) -> Self {
        Value::Int(i as i64)
    }
}
impl From<f64> for Value {
    fn from(x: f64) -> Self {
        Value::Float(x)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

/// One header record.
///
/// * A keyword card (`KEY     = value / comment`) has `value: Some(..)` and the comment text.
/// * A card without a value — `COMMENT`, `HISTORY`, a blank keyword, and also `HIERARCH`
///   or undefined-value cards — has `value: None` and `comment` holding the card's text from
///   column 9 on (trailing blanks removed); the writer puts that text back verbatim.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Card {
    /// The keyword, upper case, at most 8 characters; empty for a blank-keyword card.
    pub key: String,
    pub value: Option<Value>,
    pub comment: Option<String>,
}

impl Card {
    /// A keyword card.
    pub fn new(key: &str, value: impl Into<Value>, comment: Option<&str>) -> Card {
        Card {
            key: key.to_ascii_uppercase(),
            value: Some(value.into()),
            comment: comment.map(str::to_string),
        }
    }

    /// A `COMMENT` card.
    pub fn comment(text: &str) -> Card {
        Card {
            key: "COMMENT".to_string(),
            value: None,
            comment: Some(text.to_string()),
        }
    }

    /// A `HISTORY` card.
    pub fn history(text: &str) -> Card {
        Card {
            key: "HISTORY".to_string(),
            value: None,
            comment: Some(text.to_string()),
        }
    }

    /// Whether this is a commentary card (`COMMENT`, `HISTORY` or blank keyword).
    pub fn is_commentary(&self) -> bool {
        matches!(self.key.as_str(), "COMMENT" | "HISTORY" | "")
    }
}

/// The cards of one HDU, in file order (the `END` card is not stored).
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct Header {
    pub cards: Vec<Card>,
}

impl Header {
    /// An empty header.
    pub fn new() -> Header {
        Header::default()
    }

    /// A header holding `cards`.
    pub fn from_cards(cards: Vec<Card>) -> Header {
        Header { cards }
    }

    /// The first card with keyword `key` (case-insensitive), valued or not.
    pub fn card(&self, key: &str) -> Option<&Card> {
        self.cards.iter().find(|c| c.key.eq_ignore_ascii_case(key))
    }

    /// The value of the first card with keyword `key` (case-insensitive) that has one.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.cards
            .iter()
            .filter(|c| c.key.eq_ignore_ascii_case(key))
            .find_map(|c| c.value.as_ref())
    }

    /// The string value of `key`, if it is a string.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Value::as_str)
    }

    /// The numeric value of `key` (real or integer).
    pub fn get_f64(&self, key: &str) -> Option<f64> {
        self.get(key).and_then(Value::as_f64)
    }

    /// The integer value of `key`.
    pub fn get_i64(&self, key: &str) -> Option<i64> {
        self.get(key).and_then(Value::as_i64)
    }

    /// The logical value of `key`.
    pub fn get_bool(&self, key: &str) -> Option<bool> {
        self.get(key).and_then(Value::as_bool)
    }

    /// The `EXTNAME` of this HDU, if it has one.
    pub fn extname(&self) -> Option<&str> {
        self.get_str("EXTNAME")
    }

    /// Whether a card with keyword `key` exists.
    pub fn contains(&self, key: &str) -> bool {
        self.card(key).is_some()
    }

    /// Set `key` to `value`: replace the value of the first card with that keyword (and its
    /// comment, when `comment` is given), or append a new card at the end.
    pub fn set(&mut self, key: &str, value: impl Into<Value>, comment: Option<&str>) {
        let value = value.into();
        match self
            .cards
            .iter_mut()
            .find(|c| c.key.eq_ignore_ascii_case(key))
        {
            Some(card) => {
                card.value = Some(value);
                if let Some(comment) = comment {
                    card.comment = Some(comment.to_string());
                }
            }
            None => self.cards.push(Card::new(key, value, comment)),
        }
    }

    /// Append a card at the end, even if its keyword already exists.
    pub fn push(&mut self, card: Card) {
        self.cards.push(card);
    }

    /// Remove every card with keyword `key`; returns whether any was removed.
    pub fn remove(&mut self, key: &str) -> bool {
        let before = self.cards.len();
        self.cards.retain(|c| !c.key.eq_ignore_ascii_case(key));
        self.cards.len() != before
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Header {
        Header::from_cards(vec![
            Card::new("EXTNAME", "SCI", Some("extension name")),
            Card::new("NINTS", 5i64, None),
            Card::new("F2F", 0.8, Some("[m]")),
            Card::new("EXTEND", true, None),
            Card::comment("a note"),
        ])
    }

    #[test]
    fn typed_getters_return_only_matching_types() {
        let h = sample();
        assert_eq!(h.get_str("extname"), Some("SCI"));
        assert_eq!(h.get_i64("NINTS"), Some(5));
        assert_eq!(h.get_f64("NINTS"), Some(5.0));
        assert_eq!(h.get_f64("F2F"), Some(0.8));
        assert_eq!(h.get_i64("F2F"), None);
        assert_eq!(h.get_bool("EXTEND"), Some(true));
        assert_eq!(h.get_str("NINTS"), None);
        assert_eq!(h.get("COMMENT"), None);
        assert_eq!(h.get("MISSING"), None);
    }

    #[test]
    fn set_replaces_in_place_or_appends() {
        let mut h = sample();
        h.set("NINTS", 7i64, None);
        assert_eq!(h.cards[1].value, Some(Value::Int(7)));
        assert_eq!(h.cards.len(), 5);
        h.set("extname", "ERR", Some("new comment"));
        assert_eq!(h.cards[0].comment.as_deref(), Some("new comment"));
        h.set("new_key", "x", None);
        assert_eq!(h.cards.last().unwrap().key, "NEW_KEY");
    }

    #[test]
    fn remove_drops_every_card_with_the_key() {
        let mut h = sample();
        h.push(Card::new("NINTS", 3i64, None));
        assert!(h.remove("nints"));
        assert!(!h.contains("NINTS"));
        assert!(!h.remove("NINTS"));
    }
}
