//! Both views side by side: each walks on its own, every question either asked is asked of the
//! other too, and each pair of replies is compared.

use std::collections::HashMap;

use crate::model::{Question, Reply};
use crate::walk::{Step, Walk, walk};

/// One question and both views' replies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
    /// Which part of the checks asked it.
    pub step: Step,
    /// The question.
    pub question: Question,
    /// The cluster resolver's reply.
    pub resolver: Reply,
    /// The public view's reply.
    pub public: Reply,
    /// Same RCODE and the same answer records (TTL and order ignored).
    pub equal: bool,
    /// The public walk asked it (else only the resolver's walk did).
    pub in_public_walk: bool,
}

/// Both walks and their comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparisons {
    /// The public view's walk.
    pub public_walk: Walk,
    /// The cluster resolver's walk.
    pub resolver_walk: Walk,
    /// The public walk's questions in order, then those only the resolver's walk asked.
    pub rows: Vec<Comparison>,
}

/// A view that asks each question once, and after a question that got no reply asks nothing
/// more (a dead server would cost one timeout per question).
struct Memo<'a> {
    ask: &'a mut dyn FnMut(&Question) -> Reply,
    seen: HashMap<Question, Reply>,
    dead: bool,
}

impl Memo<'_> {
    fn ask(&mut self, q: &Question) -> Reply {
        if let Some(r) = self.seen.get(q) {
            return r.clone();
        }
        let r = if self.dead {
            Reply::NoReply("not asked: no reply to an earlier question".into())
        } else {
            (self.ask)(q)
        };
        if matches!(r, Reply::NoReply(_)) {
            self.dead = true;
        }
        self.seen.insert(q.clone(), r.clone());
        r
    }
}

/// Walks `name` through both views and compares every question either walk asked.
pub fn compare(
    name: &str,
    resolver: &mut dyn FnMut(&Question) -> Reply,
    public: &mut dyn FnMut(&Question) -> Reply,
) -> Comparisons {
    let mut public = Memo {
        ask: public,
        seen: HashMap::new(),
        dead: false,
    };
    let mut resolver = Memo {
        ask: resolver,
        seen: HashMap::new(),
        dead: false,
    };
    let public_walk = walk(name, &mut |q| public.ask(q));
    let resolver_walk = walk(name, &mut |q| resolver.ask(q));
    let mut rows: Vec<Comparison> = Vec::new();
    let mut push = |step: Step, q: &Question, r: Reply, p: Reply, in_public_walk: bool| {
        if rows.iter().any(|c| &c.question == q) {
            return;
        }
        rows.push(Comparison {
            step,
            question: q.clone(),
            equal: r.same_as(&p),
            resolver: r,
            public: p,
            in_public_walk,
        });
    };
    for l in &public_walk.lookups {
        push(
            l.step,
            &l.question,
            resolver.ask(&l.question),
            l.reply.clone(),
            true,
        );
    }
    for l in &resolver_walk.lookups {
        push(
            l.step,
            &l.question,
            l.reply.clone(),
            public.ask(&l.question),
            false,
        );
    }
    Comparisons {
        public_walk,
        resolver_walk,
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{QType, Record};
    use crate::testviews::View;

    #[test]
    fn same_views_compare_equal_and_ask_each_question_once() {
        let mut public = View::public_example_com();
        let mut resolver = View::public_example_com();
        let c = compare("www.example.com", &mut |q| resolver.ask(q), &mut |q| {
            public.ask(q)
        });
        assert!(c.rows.iter().all(|r| r.equal && r.in_public_walk));
        assert_eq!(c.rows.len(), 11);
        assert_eq!(public.asked.len(), 11);
        assert_eq!(resolver.asked.len(), 11);
    }

    #[test]
    fn a_question_only_the_resolver_walk_asks_is_compared_too() {
        let mut public = View::public_example_com();
        let mut resolver = View::public_example_com();
        resolver.cname("_acme-challenge.example.com", "elsewhere.example.com");
        let c = compare("example.com", &mut |q| resolver.ask(q), &mut |q| {
            public.ask(q)
        });
        let extra: Vec<_> = c.rows.iter().filter(|r| !r.in_public_walk).collect();
        assert!(
            extra
                .iter()
                .any(|r| r.question == Question::new("elsewhere.example.com", QType::Cname))
        );
        assert!(
            public
                .asked
                .contains(&Question::new("elsewhere.example.com", QType::Cname)),
            "the public view is asked what only the resolver's walk asked"
        );
    }

    #[test]
    fn a_dead_view_is_asked_once() {
        let mut public = View::public_example_com();
        let mut tries = 0;
        let c = compare(
            "www.example.com",
            &mut |_| {
                tries += 1;
                Reply::NoReply("timeout".into())
            },
            &mut |q| public.ask(q),
        );
        assert_eq!(tries, 1);
        assert!(c.rows.iter().all(|r| !r.equal));
        assert_eq!(c.rows[0].resolver, Reply::NoReply("timeout".into()));
    }

    #[test]
    fn ttl_free_records_compare_by_value() {
        let mut public = View::public_example_com();
        let mut resolver = View::public_example_com();
        resolver.hide("www.example.com");
        resolver.add("www.example.com", "A", "10.0.0.80");
        let c = compare("www.example.com", &mut |q| resolver.ask(q), &mut |q| {
            public.ask(q)
        });
        let a = c
            .rows
            .iter()
            .find(|r| r.question == Question::new("www.example.com", QType::A))
            .expect("A row");
        assert!(!a.equal);
        assert_eq!(
            a.resolver.answer(),
            [Record::new("www.example.com", "A", "10.0.0.80")]
        );
    }
}
