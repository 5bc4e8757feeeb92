package journaltest

// FourActions is a catalog of four web actions without caps or rules,
// one per page of the tests' truth ("a-home" is best on the home page,
// and so on; "a-none" on none), for the retraining loop's tests, in
// process and through real processes.
const FourActions = `version: 1
channels: [web]
actions:
  - {id: a-home,    name: A, channels: [web], value: 1, features: {category: content, discount: 0}}
  - {id: a-product, name: B, channels: [web], value: 1, features: {category: content, discount: 0}}
  - {id: a-cart,    name: C, channels: [web], value: 1, features: {category: content, discount: 0}}
  - {id: a-none,    name: D, channels: [web], value: 1, features: {category: content, discount: 0}}
`
