//! [`FieldMask`]: names of fields left out when a record is read (those
//! hidden from a viewer: `access::decide::hidden_fields` makes it).

/// Field names to leave out; empty leaves nothing out.
#[derive(Debug, Default)]
pub(crate) struct FieldMask<'n>(Vec<&'n str>);

impl<'n> FieldMask<'n> {
    pub(crate) fn from_names(names: &[&'n str]) -> FieldMask<'n> {
        FieldMask(names.to_vec())
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `field` (a name, as text or its bytes) is left out.
    pub(crate) fn contains(&self, field: impl AsRef<[u8]>) -> bool {
        self.0.iter().any(|h| h.as_bytes() == field.as_ref())
    }
}
