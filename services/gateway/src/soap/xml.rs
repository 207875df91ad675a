//! The SOAP envelope as a small tree of elements, read with quick-xml's namespace-aware reader
//! (`NsReader`), and the writing of replies.
//!
//! The reader is bounded: at most [`MAX_DEPTH`] levels and [`MAX_ELEMENTS`] elements, no
//! document type declaration (SOAP 1.1 section 3 forbids it; it is also where entity bombs
//! live), no processing instructions, and only the five predefined entities and character
//! references. A leaf's text is borrowed from the request when it comes in one piece (the
//! base64 of an image is not copied while it is read).

use std::borrow::Cow;

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

/// Deeper than any message of the binding (Envelope, Body, operation, item, field: 5).
pub const MAX_DEPTH: usize = 32;
/// More than a submit of the order check's 500 lines needs (6 elements a line).
pub const MAX_ELEMENTS: usize = 20_000;

/// An element: its namespace (None when unqualified), local name, attributes (local name,
/// value; `xmlns` declarations left out), text (all of its text nodes, in order) and children.
#[derive(Debug)]
pub struct El<'a> {
    pub ns: Option<String>,
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub text: Cow<'a, str>,
    pub children: Vec<El<'a>>,
}

impl<'a> El<'a> {
    pub fn is(&self, ns: &str, name: &str) -> bool {
        self.ns.as_deref() == Some(ns) && self.name == name
    }

    pub fn attr(&self, local: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == local)
            .map(|(_, v)| v.as_str())
    }

    /// `{ns}name`, as a fault names an element.
    pub fn qname(&self) -> String {
        match &self.ns {
            Some(ns) => format!("{{{ns}}}{}", self.name),
            None => self.name.clone(),
        }
    }
}

/// Reads `input` as one XML document; the error says what is wrong, for a Client fault.
pub fn parse(input: &str) -> Result<El<'_>, String> {
    let mut reader = NsReader::from_str(input);
    let cfg = reader.config_mut();
    cfg.expand_empty_elements = true;
    cfg.check_end_names = true;
    let mut stack: Vec<El<'_>> = Vec::new();
    let mut root: Option<El<'_>> = None;
    let mut count = 0usize;
    loop {
        let (ns, event) = reader
            .read_resolved_event()
            .map_err(|e| format!("not well-formed XML: {e}"))?;
        let ns = match ns {
            ResolveResult::Bound(n) => Some(n.0.to_string()),
            ResolveResult::Unbound => None,
            ResolveResult::Unknown(p) => {
                return Err(format!("the namespace prefix {p:?} is not declared"));
            }
        };
        match event {
            Event::Start(e) => {
                if root.is_some() {
                    return Err("more than one root element".into());
                }
                count += 1;
                if stack.len() >= MAX_DEPTH || count > MAX_ELEMENTS {
                    return Err(format!(
                        "the document is too deep or too large (at most {MAX_DEPTH} levels and {MAX_ELEMENTS} elements)"
                    ));
                }
                let mut attrs = Vec::new();
                for a in e.attributes() {
                    let a = a.map_err(|e| format!("a malformed attribute: {e}"))?;
                    if a.key.as_namespace_binding().is_some() {
                        continue;
                    }
                    let value = a
                        .normalized_value(quick_xml::XmlVersion::default())
                        .map_err(|e| format!("a malformed attribute value: {e}"))?;
                    attrs.push((a.key.local_name().as_ref().to_string(), value.into_owned()));
                }
                stack.push(El {
                    ns,
                    name: e.local_name().as_ref().to_string(),
                    attrs,
                    text: Cow::Borrowed(""),
                    children: Vec::new(),
                });
            }
            Event::End(_) => {
                let el = stack.pop().ok_or("an end tag without its start")?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::Text(t) => {
                let text = t.xml10_content();
                match stack.last_mut() {
                    Some(el) => append(&mut el.text, text),
                    None if text.trim().is_empty() => {}
                    None => return Err("text outside the root element".into()),
                }
            }
            Event::CData(t) => match stack.last_mut() {
                Some(el) => append(&mut el.text, t.into_inner()),
                None => return Err("text outside the root element".into()),
            },
            Event::GeneralRef(r) => {
                let c = match r.resolve_char_ref() {
                    Ok(Some(c)) => c,
                    Ok(None) => match &*r {
                        "amp" => '&',
                        "lt" => '<',
                        "gt" => '>',
                        "quot" => '"',
                        "apos" => '\'',
                        other => return Err(format!("the entity &{other}; is not defined")),
                    },
                    Err(e) => return Err(format!("a malformed character reference: {e}")),
                };
                match stack.last_mut() {
                    Some(el) => el.text.to_mut().push(c),
                    None => return Err("a reference outside the root element".into()),
                }
            }
            Event::DocType(_) => {
                return Err("a SOAP message must not contain a document type declaration".into());
            }
            Event::PI(_) => {
                return Err("a SOAP message must not contain processing instructions".into());
            }
            Event::Decl(_) | Event::Comment(_) => {}
            Event::Empty(_) => return Err("an empty element was not expanded".into()),
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err("the document ends inside an element".into());
    }
    root.ok_or_else(|| "no root element".into())
}

fn append<'a>(to: &mut Cow<'a, str>, more: Cow<'a, str>) {
    if to.is_empty() {
        *to = more;
    } else {
        to.to_mut().push_str(&more);
    }
}

/// A reply's body element, written with the binding's namespace as the default one.
pub struct Out(String);

impl Out {
    /// `<name xmlns="ns">` opened.
    pub fn new(ns: &str, name: &str) -> Out {
        Out(format!(
            "<{name} xmlns=\"{}\">",
            quick_xml::escape::escape(ns)
        ))
    }

    pub fn open(&mut self, name: &str) -> &mut Self {
        self.0.push('<');
        self.0.push_str(name);
        self.0.push('>');
        self
    }

    pub fn close(&mut self, name: &str) -> &mut Self {
        self.0.push_str("</");
        self.0.push_str(name);
        self.0.push('>');
        self
    }

    pub fn leaf(&mut self, name: &str, value: impl std::fmt::Display) -> &mut Self {
        let v = value.to_string();
        self.open(name);
        self.0.push_str(&quick_xml::escape::escape(v.as_str()));
        self.close(name)
    }

    pub fn opt(&mut self, name: &str, value: Option<impl std::fmt::Display>) -> &mut Self {
        if let Some(v) = value {
            self.leaf(name, v);
        }
        self
    }

    /// The element closed with `name` and the text of it.
    pub fn finish(mut self, name: &str) -> String {
        self.close(name);
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_are_resolved_and_text_is_unescaped() {
        let doc = r#"<?xml version="1.0"?><s:E xmlns:s="urn:s"><b xmlns="urn:b">a &amp; b&#33;<![CDATA[<c>]]></b></s:E>"#;
        let root = parse(doc).unwrap();
        assert!(root.is("urn:s", "E"));
        assert!(root.children[0].is("urn:b", "b"));
        assert_eq!(root.children[0].text, "a & b!<c>");
    }

    #[test]
    fn what_a_soap_message_must_not_hold_is_refused() {
        for bad in [
            r#"<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>"#,
            "<x><?pi x?></x>",
            "<x>&unknown;</x>",
            "<p:x/>",
            "<x></y>",
            "<x>",
            "<x/><y/>",
            "",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        let deep = "<a>".repeat(MAX_DEPTH + 1) + &"</a>".repeat(MAX_DEPTH + 1);
        assert!(parse(&deep).is_err());
    }

    #[test]
    fn replies_are_escaped() {
        let mut o = Out::new("urn:x", "R");
        o.leaf("name", "<a & b>");
        assert_eq!(
            o.finish("R"),
            "<R xmlns=\"urn:x\"><name>&lt;a &amp; b&gt;</name></R>"
        );
    }
}
