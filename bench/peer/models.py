"""A plain User with the 13 columns of the reference loaders' CSV."""

from django.db import models


class User(models.Model):
    """Same columns and sizes as the reference loaders' table (bench_pg.ddl)."""

    userName = models.CharField(max_length=150, unique=True)
    givenName = models.CharField(max_length=100)
    sn = models.CharField(max_length=100)
    mail = models.CharField(max_length=254)
    description = models.TextField()
    accountStatus = models.CharField(max_length=16)
    telephoneNumber = models.CharField(max_length=32)
    postalAddress = models.CharField(max_length=255)
    city = models.CharField(max_length=100)
    postalCode = models.CharField(max_length=20)
    country = models.CharField(max_length=64)
    stateProvince = models.CharField(max_length=100)
    preferences = models.JSONField()

    class Meta:
        db_table = "peer_user"

    def __str__(self) -> str:
        return self.userName
