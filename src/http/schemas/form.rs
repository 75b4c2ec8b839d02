//! The form's OpenAPI schema, built from the domain's table of fields
//! ([`crate::domain::form::FIELDS`]) rather than described a second time: the
//! document states the limits the validators apply.

use std::borrow::Cow;

use utoipa::openapi::schema::{
    AdditionalProperties, ArrayBuilder, KnownFormat, ObjectBuilder, Schema, SchemaFormat,
    SchemaType, Type,
};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

use crate::domain::form::{Field, Kind, Lines, FIELDS};

/// The characters a text field may hold (`domain/form/text.rs`), as a
/// pattern: no control character but `\t` and `\n` in fields of several
/// lines, no line or paragraph separator, no bidi embedding, override or
/// isolate.
fn pattern(lines: Lines) -> &'static str {
    match lines {
        Lines::Single => r"^[^\u0000-\u001F\u007F-\u009F\u2028\u2029\u202A-\u202E\u2066-\u2069]*$",
        Lines::Multi => {
            r"^[^\u0000-\u0008\u000B-\u001F\u007F-\u009F\u2028\u2029\u202A-\u202E\u2066-\u2069]*$"
        }
    }
}

/// The form's fields and their drafting limits, as `formData` in requests
/// and answers. Every field is optional. (Serialize: the schemas' structs
/// that hold it derive it; nothing sends it.)
#[derive(serde::Serialize)]
pub struct FormData;

impl PartialSchema for FormData {
    fn schema() -> RefOr<Schema> {
        let object = FIELDS.iter().fold(
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .description(Some(
                    "The form's fields and their drafting limits. Every field is optional. \
                     Text fields refuse control characters, bidi controls and line separators \
                     (one-line fields `\\n` and `\\t` too) while drafting already: the patterns \
                     below, described in docs/api.md (\"Validation\").",
                ))
                .additional_properties(Some(AdditionalProperties::FreeForm(false))),
            |object, field| object.property(field.name, property(field)),
        );
        RefOr::T(Schema::Object(object.build()))
    }
}

impl ToSchema for FormData {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("FormData")
    }
}

fn nullable(kind: Type) -> SchemaType {
    SchemaType::from_iter([kind, Type::Null])
}

/// One field's schema: its type (`null` removes it in a patch), its limits,
/// and a description of what the schema cannot say.
fn property(field: &Field) -> Schema {
    let about = describe(field);
    match field.kind {
        Kind::Text { lines, max_chars } => ObjectBuilder::new()
            .schema_type(nullable(Type::String))
            .description(about)
            .max_length(Some(max_chars))
            .pattern(Some(pattern(lines)))
            .into(),
        Kind::Integer { min, max } => ObjectBuilder::new()
            .schema_type(nullable(Type::Integer))
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .description(about)
            .minimum(Some(min))
            .maximum(Some(max))
            .into(),
        Kind::List { max_items, .. } => ArrayBuilder::new()
            .schema_type(nullable(Type::Array))
            .items(ObjectBuilder::new().schema_type(Type::String))
            .description(about)
            .max_items(Some(max_items))
            .into(),
    }
}

/// What a field's description says: the limits a schema keyword cannot state
/// (a minimum that applies on submit only, after trimming; a list's items),
/// then what the table says the field holds.
fn describe(field: &Field) -> Option<String> {
    match field.kind {
        Kind::Text {
            lines: Lines::Single,
            max_chars,
        } if field.submit.min_chars > 0 => Some(format!(
            "{}-{max_chars} characters after trimming (the minimum applies on submit); \
             one line; {}.",
            field.submit.min_chars,
            field.about.unwrap_or("text"),
        )),
        Kind::List {
            max_items,
            item_max_chars,
        } => Some(format!(
            "At most {max_items} items of at most {item_max_chars} characters, each one line."
        )),
        _ => field.about.map(str::to_owned),
    }
}
