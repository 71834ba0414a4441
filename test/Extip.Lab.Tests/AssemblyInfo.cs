// Each test brings a whole lab up (a dozen namespaces, a routing daemon, five processes): one at
// a time, on a 2-core machine.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
