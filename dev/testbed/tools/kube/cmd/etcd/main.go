// Command etcd is the stock etcd server: the same entry point as the released binary,
// built from the module version that go.mod pins for kube-apiserver.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
