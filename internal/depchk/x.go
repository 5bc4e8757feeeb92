package internal_test_tmp
import (_ "github.com/nats-io/nats.go"; _ "github.com/nats-io/nats.go/jetstream"; _ "github.com/redis/rueidis")

