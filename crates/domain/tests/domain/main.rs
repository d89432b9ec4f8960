//! Tests of the domain crate (one test binary).

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod identifiers;
#[cfg(test)]
mod invoice;
#[cfg(test)]
mod lifecycle;
#[cfg(test)]
mod money;
#[cfg(test)]
mod payments;
#[cfg(test)]
mod properties;
#[cfg(test)]
mod settlement;
#[cfg(test)]
mod status;
#[cfg(test)]
mod submission;
