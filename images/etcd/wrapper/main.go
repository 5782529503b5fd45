// Command etcd: upstream's etcd server, built by localkube from the go.etcd.io/etcd/server/v3 module.
// This is server/main.go of etcd's repository; it lives in a wrapper module because etcd's own go.mod
// has folder replaces that `go install module@version` refuses. localkube writes the go.mod beside it.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
