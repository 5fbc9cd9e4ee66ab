"""The fleet (the EC2 auto-scaling group role): N OS processes per service, dead ones replaced."""
