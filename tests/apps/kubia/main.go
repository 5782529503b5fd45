// kubia: the sample app of "Kubernetes in Action", chapter 2, rebuilt for a machine without a
// registry: an HTTP server on 8080 answering "You've hit <hostname>". Also a tiny HTTP client
// (`kubia get URL`), because the image has no shell or curl and the tests request services from
// inside a pod.
package main

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"time"
)

func main() {
	if len(os.Args) == 3 && os.Args[1] == "get" {
		os.Exit(get(os.Args[2]))
	}
	hostname, _ := os.Hostname()
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		log.Printf("Received request from %s", r.RemoteAddr)
		fmt.Fprintf(w, "You've hit %s\n", hostname)
	})
	log.Printf("kubia server starting on :8080")
	log.Fatal(http.ListenAndServe(":8080", nil))
}

func get(url string) int {
	client := http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer resp.Body.Close()
	io.Copy(os.Stdout, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return 1
	}
	return 0
}
