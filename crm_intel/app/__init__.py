"""The application layer: the product's workflows as functions of the data home's context
(settings and open handles). The command line, the web pages' jobs and the worker all call
these; none of them holds a workflow of its own."""
