//! [`Secret`]: the one wrapper a plaintext key is held in. It cannot be printed (its
//! `Debug` is `<redacted>`, it has no `Display`) and its memory is zeroized on drop.

use std::fmt;

use zeroize::Zeroizing;

/// A secret string: `Debug` prints `<redacted>`, there is no `Display`, and the
/// memory is zeroized on drop.
#[derive(Clone)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps `text`, which is zeroized when the secret is dropped.
    pub fn new(text: String) -> Self {
        Self(Zeroizing::new(text))
    }

    /// The secret text, for the one place that needs it (key parsing).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_text() {
        let secret = Secret::new("hunter2".to_owned());
        assert_eq!(format!("{secret:?}"), "<redacted>");
        assert_eq!(format!("{secret:#?}"), "<redacted>");
        assert_eq!(secret.expose(), "hunter2");
    }
}
