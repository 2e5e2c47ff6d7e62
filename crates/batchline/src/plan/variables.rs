//! Pipeline variables shared by the batches of a run: their declarations, values and errors.

use std::any::{type_name, Any};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use parking_lot::Mutex;
use serde::de::DeserializeOwned;
use serde::Serialize;

type Value = Box<dyn Any + Send + Sync>;
type Init = Arc<dyn Fn() -> Value + Send + Sync>;
type Save =
    Arc<dyn Fn(&(dyn Any + Send + Sync)) -> Result<serde_json::Value, String> + Send + Sync>;
type Load = Arc<dyn Fn(&serde_json::Value) -> Result<Value, String> + Send + Sync>;

/// How a pipeline declares a variable: its name, its type and how to make its initial value;
/// for a state variable, how to save and restore it.
#[derive(Clone)]
pub(crate) struct VarDecl {
    pub(crate) name: String,
    type_name: &'static str,
    init: Init,
    pub(crate) codec: Option<(Save, Load)>,
}

impl VarDecl {
    pub(crate) fn new<T: Clone + Send + Sync + 'static>(name: String, default: T) -> Self {
        Self {
            name,
            type_name: type_name::<T>(),
            init: Arc::new(move || Box::new(default.clone())),
            codec: None,
        }
    }

    /// A variable saved in checkpoints.
    pub(crate) fn state<T>(name: String, default: T) -> Self
    where
        T: Clone + Send + Sync + Serialize + DeserializeOwned + 'static,
    {
        let mut decl = Self::new(name, default);
        let save: Save = Arc::new(|v| {
            let v = v.downcast_ref::<T>().ok_or("a variable of another type")?;
            // JSON turns NaN and infinities into null, which would come back as another value
            // (or not at all): refuse them rather than lose them.
            let exact = ciborium::Value::serialized(v).map_err(|e| e.to_string())?;
            if has_non_finite(&exact) {
                return Err(
                    "it holds a NaN or an infinite number, which a checkpoint cannot \
                            keep (JSON has no such numbers)"
                        .into(),
                );
            }
            serde_json::to_value(v).map_err(|e| e.to_string())
        });
        let load: Load = Arc::new(|v| {
            T::deserialize(v)
                .map(|t| Box::new(t) as Value)
                .map_err(|e| e.to_string())
        });
        decl.codec = Some((save, load));
        decl
    }
}

struct Slot {
    value: Value,
    type_name: &'static str,
}

/// Why a variable could not be read or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VariableError {
    /// No variable has this name.
    #[error("no pipeline variable named {name:?} (the pipeline has: {known:?}); declare it with init_variable")]
    Missing {
        /// The name asked for.
        name: String,
        /// The names of the variables that exist.
        known: Vec<String>,
    },
    /// The variable holds a value of another type.
    #[error("pipeline variable {name:?} holds a {actual}, not a {expected}")]
    WrongType {
        /// The variable's name.
        name: String,
        /// The type asked for.
        expected: &'static str,
        /// The type the variable was declared with.
        actual: &'static str,
    },
}

/// The variables of a pipeline (BatchFlow's pipeline variables): named, typed values shared by
/// every batch of a run and by the consumer.
///
/// Every access takes one lock, so [`update`](Self::update) is an atomic read-modify-write: no
/// update is lost, whatever the prefetch. Variables are declared with
/// [`Pipeline::init_variable`](crate::Pipeline::init_variable); they keep their values from
/// one run to the next until [`Pipeline::reset`](crate::Pipeline::reset) re-initialises them.
///
/// # Examples
///
/// ```
/// use batchline::{Context, Dataset, DatasetIndex, RunSpec};
/// use batchline::IdsBatch;
///
/// let ds: Dataset<IdsBatch> = Dataset::new(DatasetIndex::from_count(10), ());
/// let p = ds
///     .p()
///     .init_variable("seen", 0_usize)
///     .apply("count", |b: &mut IdsBatch, ctx: &mut Context| {
///         ctx.variables().update("seen", |n: &mut usize| *n += batchline::Batch::len(b))
///     });
/// p.run(&RunSpec::new(3).prefetch(2))?;
/// assert_eq!(p.variables().get::<usize>("seen")?, 10);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Variables {
    decls: Vec<VarDecl>,
    slots: Mutex<BTreeMap<String, Slot>>,
}

impl fmt::Debug for Variables {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let slots = self.slots.lock();
        f.debug_map()
            .entries(slots.iter().map(|(k, s)| (k, s.type_name)))
            .finish()
    }
}

impl Variables {
    /// Variables at the initial values of `decls` (a later declaration of a name wins).
    pub(crate) fn from_decls(decls: Vec<VarDecl>) -> Self {
        let me = Self {
            decls,
            slots: Mutex::new(BTreeMap::new()),
        };
        me.reset();
        me
    }

    pub(crate) fn decls(&self) -> &[VarDecl] {
        &self.decls
    }

    /// Sets every variable back to its initial value.
    pub fn reset(&self) {
        let mut slots = self.slots.lock();
        slots.clear();
        for d in &self.decls {
            slots.insert(
                d.name.clone(),
                Slot {
                    value: (d.init)(),
                    type_name: d.type_name,
                },
            );
        }
    }

    /// The values of the state variables.
    pub(crate) fn save(&self) -> Result<BTreeMap<String, serde_json::Value>, (String, String)> {
        let slots = self.slots.lock();
        let mut out = BTreeMap::new();
        for d in &self.decls {
            if let (Some((save, _)), Some(slot)) = (&d.codec, slots.get(&d.name)) {
                let value = save(slot.value.as_ref()).map_err(|e| (d.name.clone(), e))?;
                out.insert(d.name.clone(), value);
            }
        }
        Ok(out)
    }

    /// Sets the state variables to saved values (all of them or none).
    pub(crate) fn restore(
        &self,
        saved: &BTreeMap<String, serde_json::Value>,
    ) -> Result<(), (String, String)> {
        let mut loaded = Vec::new();
        for d in &self.decls {
            if let Some((_, load)) = &d.codec {
                let value = saved
                    .get(&d.name)
                    .ok_or_else(|| (d.name.clone(), "missing from the checkpoint".to_string()))?;
                loaded.push((d, load(value).map_err(|e| (d.name.clone(), e))?));
            }
        }
        let mut slots = self.slots.lock();
        for (d, value) in loaded {
            slots.insert(
                d.name.clone(),
                Slot {
                    value,
                    type_name: d.type_name,
                },
            );
        }
        Ok(())
    }

    /// The names of the state variables, in declaration order.
    pub(crate) fn state_names(&self) -> impl Iterator<Item = &str> {
        self.decls
            .iter()
            .filter(|d| d.codec.is_some())
            .map(|d| d.name.as_str())
    }

    /// The names of the variables, sorted.
    pub fn names(&self) -> Vec<String> {
        self.slots.lock().keys().cloned().collect()
    }

    /// A copy of the value of variable `name`.
    ///
    /// # Errors
    ///
    /// [`VariableError::Missing`] or [`VariableError::WrongType`].
    pub fn get<T: Clone + 'static>(&self, name: &str) -> Result<T, VariableError> {
        self.update(name, |v: &mut T| v.clone())
    }

    /// Replaces the value of variable `name`.
    ///
    /// # Errors
    ///
    /// [`VariableError::Missing`] or [`VariableError::WrongType`] (a variable keeps the type
    /// it was declared with).
    pub fn set<T: 'static>(&self, name: &str, value: T) -> Result<(), VariableError> {
        self.update(name, |v: &mut T| *v = value)
    }

    /// Runs `f` on variable `name` under the variables' lock: an atomic read-modify-write.
    ///
    /// `f` must not touch the variables itself (that would deadlock).
    ///
    /// # Errors
    ///
    /// [`VariableError::Missing`] or [`VariableError::WrongType`].
    pub fn update<T: 'static, R>(
        &self,
        name: &str,
        f: impl FnOnce(&mut T) -> R,
    ) -> Result<R, VariableError> {
        let mut slots = self.slots.lock();
        let known = || slots_names(&self.decls);
        let Some(slot) = slots.get_mut(name) else {
            return Err(VariableError::Missing {
                name: name.to_string(),
                known: known(),
            });
        };
        let actual = slot.type_name;
        match slot.value.downcast_mut::<T>() {
            Some(v) => Ok(f(v)),
            None => Err(VariableError::WrongType {
                name: name.to_string(),
                expected: type_name::<T>(),
                actual,
            }),
        }
    }
}

/// Whether a value holds a float that JSON cannot represent.
fn has_non_finite(v: &ciborium::Value) -> bool {
    use ciborium::Value as V;
    match v {
        V::Float(f) => !f.is_finite(),
        V::Array(items) => items.iter().any(has_non_finite),
        V::Map(entries) => entries
            .iter()
            .any(|(k, v)| has_non_finite(k) || has_non_finite(v)),
        V::Tag(_, inner) => has_non_finite(inner),
        _ => false,
    }
}

fn slots_names(decls: &[VarDecl]) -> Vec<String> {
    let mut names: Vec<String> = decls.iter().map(|d| d.name.clone()).collect();
    names.sort();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_are_typed_and_named_in_errors() {
        let vars = Variables::from_decls(vec![
            VarDecl::new("n".into(), 1_u32),
            VarDecl::new("log".into(), Vec::<String>::new()),
        ]);
        assert_eq!(vars.get::<u32>("n"), Ok(1));
        vars.set("n", 5_u32).unwrap();
        assert_eq!(
            vars.update("n", |n: &mut u32| {
                *n += 1;
                *n
            }),
            Ok(6)
        );
        let err = vars.get::<u64>("n").unwrap_err();
        assert_eq!(
            err,
            VariableError::WrongType {
                name: "n".into(),
                expected: "u64",
                actual: "u32"
            }
        );
        assert!(err.to_string().contains("\"n\""), "{err}");
        let err = vars.get::<u32>("m").unwrap_err();
        assert!(
            err.to_string().contains("\"m\"") && err.to_string().contains("\"log\""),
            "{err}"
        );
        vars.reset();
        assert_eq!(vars.get::<u32>("n"), Ok(1));
        assert_eq!(vars.names(), ["log", "n"]);
    }
}
