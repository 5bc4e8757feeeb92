// Package personalizer holds the rules of nextbest's Personalizer-
// compatible namespace (the /personalizer/v1.0/ routes of package serve):
// how the free-form features of a rank call become a model's row, how a
// row's scores become an answer with exact probabilities, how an event's
// rewards become the reward it is learned with, and what a resource's
// configuration may hold. It is pure: no I/O, no clock, no randomness of
// its own (the draw is seeded by the event id, Seed).
//
// # Featurization
//
// A rank call carries contextFeatures, and for each action (and each slot
// of a multi-slot call) features: lists of JSON objects, nested freely.
// Flatten turns such a list into hashed features, by one rule:
//
//   - a top-level key whose value is an object names a namespace; the
//     other top-level keys are in the side's default namespace "";
//   - keys below the namespace join into the feature's name with dots
//     ("address.city");
//   - a string value v is a one-hot feature "name=v" with value 1;
//   - a number x is the feature "name" with value x;
//   - true is the feature "name" with value 1; false and null add
//     nothing (a 0);
//   - an array's elements are features of the array's name: strings are
//     one-hot each (a bag of values), numbers and booleans are
//     "name[i]", objects are flattened under the array's name;
//   - keys that begin with "_" are ignored (Vowpal Wabbit's convention
//     for metadata);
//   - every action also has the feature "_id=<its id>", every slot
//     "_id=<its id>", and every row a constant bias feature.
//
// A feature's hash covers its side (context, action or slot), its
// namespace and its name, so "type=News" of the context and of an action
// are different features. Row builds a model's row for one action: the
// bias, the context's and the action's (and the slot's) features, and the
// quadratic crosses context×action and slot×action (Vowpal Wabbit's
// "-q ::" between the shared and the action namespaces), each product
// hashed again; indices are the hashes modulo 2^bits. Features that share
// an index add up.
//
// # Exploration
//
// Explore turns the model's scores into an answer: the best-scored
// non-excluded action (the earliest on ties, so a model that knows
// nothing serves the baseline) is chosen with probability 1−ε, every other
// non-excluded action with ε/(K−1), as Personalizer's explorationPercentage
// does; excluded actions have probability 0. The draw uses the generator
// Seed makes from the event id, so one event id gives one answer.
//
// # What it is not
//
// Not the HTTP layer (serve decodes and answers), not the model (a
// models.Ridge over the hashed rows, trained by training/online), not
// the state (the applier keeps the events).
package personalizer
