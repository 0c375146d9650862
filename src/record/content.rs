//! Which parts of an event are content (what a purge removes) and which component of a
//! record each part feeds. Every function here destructures [`Content`] (and [`Artifact`])
//! without `..`: a new field does not compile until each of them decides what to do with
//! it, so a purge cannot quietly keep a new kind of content.

use super::event::{Artifact, Category, Content};

/// A component of a record: one kind of output of an encounter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Recording,
    Transcript,
    Summary,
    Note,
    Job,
    Device,
    Instructions,
}

impl Kind {
    /// The component an event of `category` is about (`other` feeds none).
    pub(crate) fn of(category: Category) -> Option<Kind> {
        match category {
            Category::Recording => Some(Kind::Recording),
            Category::Transcript => Some(Kind::Transcript),
            Category::Summary => Some(Kind::Summary),
            Category::Note => Some(Kind::Note),
            Category::Job => Some(Kind::Job),
            Category::Device => Some(Kind::Device),
            Category::Instructions => Some(Kind::Instructions),
            Category::Other => None,
        }
    }
}

impl Content {
    /// Removes every piece of content: transcript, note, summary, concepts, SOAP,
    /// diagnoses, patient instructions, and the digest and size of fetched outputs (their locations, formats and reasons stay: they
    /// are references, not content). Facts about the recording and the device, and the
    /// error, stay.
    pub fn strip(&mut self) {
        let Content {
            transcript,
            note,
            summary,
            concepts,
            soap,
            recording: _,
            device: _,
            artifacts,
            diagnoses,
            instructions,
            error: _,
        } = self;
        *transcript = None;
        *note = None;
        *summary = None;
        *concepts = None;
        *soap = None;
        *diagnoses = None;
        *instructions = None;
        for artifact in artifacts.iter_mut().flatten() {
            artifact.strip();
        }
    }

    /// Whether this holds anything [`Content::strip`] would remove.
    pub fn has_content(&self) -> bool {
        // Field by field rather than strip-a-copy-and-compare: no transcript is cloned.
        let Content {
            transcript,
            note,
            summary,
            concepts,
            soap,
            recording: _,
            device: _,
            artifacts,
            diagnoses,
            instructions,
            error: _,
        } = self;
        transcript.is_some()
            || note.is_some()
            || summary.is_some()
            || concepts.is_some()
            || soap.is_some()
            || diagnoses.is_some()
            || instructions.is_some()
            || artifacts.iter().flatten().any(Artifact::has_content)
    }

    /// The components this content feeds besides its event's own category's: a Daily batch
    /// job's fetched transcript, SOAP note and summary feed the transcript, note and summary
    /// components; a Nabla Connect note's transcript feeds the transcript component and its
    /// diagnoses go with the note. Recording and device facts and artifacts feed only their own category's.
    pub(crate) fn carried_kinds(&self) -> Vec<Kind> {
        let Content {
            transcript,
            note,
            summary,
            concepts,
            soap,
            recording: _,
            device: _,
            artifacts: _,
            diagnoses,
            instructions,
            error: _,
        } = self;
        let carried = [
            (transcript.is_some(), Kind::Transcript),
            (summary.is_some(), Kind::Summary),
            (
                note.is_some() || concepts.is_some() || soap.is_some() || diagnoses.is_some(),
                Kind::Note,
            ),
            (instructions.is_some(), Kind::Instructions),
        ];
        carried
            .into_iter()
            .filter_map(|(present, kind)| present.then_some(kind))
            .collect()
    }

    /// The part of this content a component of `kind` keeps, with the error.
    pub(crate) fn part(&self, kind: Kind) -> Content {
        let Content {
            transcript,
            note,
            summary,
            concepts,
            soap,
            recording,
            device,
            artifacts,
            diagnoses,
            instructions,
            error,
        } = self;
        // Only the kind's own fields are cloned: a transcript is not copied to be dropped.
        fn kept<T: Clone>(keep: bool, value: &Option<T>) -> Option<T> {
            if keep {
                value.clone()
            } else {
                None
            }
        }
        let note_part = kind == Kind::Note;
        Content {
            transcript: kept(kind == Kind::Transcript, transcript),
            note: kept(note_part, note),
            summary: kept(kind == Kind::Summary, summary),
            concepts: kept(note_part, concepts),
            soap: kept(note_part, soap),
            recording: kept(kind == Kind::Recording, recording),
            device: kept(kind == Kind::Device, device),
            artifacts: kept(kind == Kind::Job, artifacts),
            diagnoses: kept(note_part, diagnoses),
            instructions: kept(kind == Kind::Instructions, instructions),
            error: error.clone(),
        }
    }
}

impl Artifact {
    /// Removes what was read of the output (its digest and size); where it is, its format
    /// and why it was or was not fetched stay.
    pub fn strip(&mut self) {
        let Artifact {
            kind: _,
            format: _,
            location: _,
            region: _,
            fetched: _,
            bytes,
            sha256,
            reason: _,
            via: _,
        } = self;
        *bytes = None;
        *sha256 = None;
    }

    /// Whether this holds anything [`Artifact::strip`] would remove.
    pub fn has_content(&self) -> bool {
        let Artifact {
            kind: _,
            format: _,
            location: _,
            region: _,
            fetched: _,
            bytes,
            sha256,
            reason: _,
            via: _,
        } = self;
        bytes.is_some() || sha256.is_some()
    }
}
